// trapbench-go: nanoseconds per call of two system calls that libgvnet.so's seccomp filter
// traps when they come from Go's one syscall site (internal/runtime/syscall.Syscall6):
//
//   getsockname on a UDP socket: trapped, and passed through to the kernel by the SIGSYS
//       handler (the socket has no netlink memberships);
//   setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, RTNLGRP_LINK) on a NETLINK_ROUTE socket:
//       trapped and emulated (recorded in gvnet's table; the kernel is not asked).
//
// Without the library the same calls go straight to the kernel. The harness runs this binary
// alternately without and with LD_PRELOAD=libgvnet.so GVNET_MODE=force
// GVNET_TARGETS=trapbench-go (see harness/src/bench.rs) and compares.
//
// The binary must be cgo (import "C") so that it is dynamically linked and LD_PRELOAD loads
// the library.
//
// Usage: trapbench-go ITERATIONS BATCHES [floor]
// Output, one line per batch and call: `<call> <ns per call> <result>`, where result is `ok`
// or the errno's number (gVisor without gvnet refuses the membership: ENOPROTOOPT).
//
// `floor` (run without the library): the floor under any SECCOMP_RET_TRAP design in a Go
// program. A filter (all threads, TSYNC) traps getsockname on the UDP socket alone, and a
// SIGSYS handler that only sets the result to 0 answers it; only getsockname is timed. The
// difference to the plain run is what the kernel charges a Go program for one trapped call
// (SIGSYS delivery on the goroutine's signal stack, the signal frame with the FPU state Go's
// runtime has in use, rt_sigreturn) before any of gvnet's code runs.
package main

/*
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static void floor_on_sigsys(int sig, siginfo_t *info, void *ctx) {
	(void)sig;
	(void)info;
	((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RAX] = 0;
}

// Traps getsockname(fd, ...) in every thread of the process; 0 or -1.
static int floor_trap_getsockname(int fd) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = floor_on_sigsys;
	// SA_ONSTACK: Go runs its goroutines on small stacks and gives every thread a signal stack.
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	if (sigaction(SIGSYS, &sa, NULL) != 0) return -1;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getsockname, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)fd, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof f / sizeof f[0], f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
}
*/
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

const (
	solNetlink           = 270
	netlinkAddMembership = 1
	rtnlgrpLink          = 1
)

func result(errno syscall.Errno) string {
	if errno == 0 {
		return "ok"
	}
	return strconv.Itoa(int(errno))
}

func main() {
	if len(os.Args) != 3 && (len(os.Args) != 4 || os.Args[3] != "floor") {
		fmt.Fprintln(os.Stderr, "usage: trapbench-go ITERATIONS BATCHES [floor]")
		os.Exit(2)
	}
	floor := len(os.Args) == 4
	n, err1 := strconv.Atoi(os.Args[1])
	batches, err2 := strconv.Atoi(os.Args[2])
	if err1 != nil || err2 != nil || n <= 0 || batches <= 0 {
		fmt.Fprintln(os.Stderr, "ITERATIONS and BATCHES must be positive integers")
		os.Exit(2)
	}
	udp, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "socket(AF_INET, SOCK_DGRAM):", err)
		os.Exit(1)
	}
	nl, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_ROUTE)
	if err != nil {
		fmt.Fprintln(os.Stderr, "socket(AF_NETLINK, NETLINK_ROUTE):", err)
		os.Exit(1)
	}
	if floor && C.floor_trap_getsockname(C.int(udp)) != 0 {
		fmt.Fprintln(os.Stderr, "floor: installing the SIGSYS handler and filter failed")
		os.Exit(1)
	}
	var sa syscall.RawSockaddrAny
	group := uint32(rtnlgrpLink)
	for b := 0; b < batches; b++ {
		// getsockname: raw, so every call is one trip through Go's syscall site.
		var last syscall.Errno
		t := time.Now()
		for i := 0; i < n; i++ {
			l := uint32(syscall.SizeofSockaddrAny)
			_, _, last = syscall.Syscall(syscall.SYS_GETSOCKNAME, uintptr(udp),
				uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&l)))
		}
		el := time.Since(t)
		fmt.Printf("getsockname %.1f %s\n", float64(el.Nanoseconds())/float64(n), result(last))
		if floor {
			continue
		}

		t = time.Now()
		for i := 0; i < n; i++ {
			_, _, last = syscall.Syscall6(syscall.SYS_SETSOCKOPT, uintptr(nl), solNetlink,
				netlinkAddMembership, uintptr(unsafe.Pointer(&group)), 4, 0)
		}
		el = time.Since(t)
		fmt.Printf("add_membership %.1f %s\n", float64(el.Nanoseconds())/float64(n), result(last))
	}
}
