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
// Usage: trapbench-go ITERATIONS BATCHES
// Output, one line per batch and call: `<call> <ns per call> <result>`, where result is `ok`
// or the errno's number (gVisor without gvnet refuses the membership: ENOPROTOOPT).
package main

// /* No C code: importing "C" only makes this a cgo, dynamically linked binary. */
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
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: trapbench-go ITERATIONS BATCHES")
		os.Exit(2)
	}
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

		t = time.Now()
		for i := 0; i < n; i++ {
			_, _, last = syscall.Syscall6(syscall.SYS_SETSOCKOPT, uintptr(nl), solNetlink,
				netlinkAddMembership, uintptr(unsafe.Pointer(&group)), 4, 0)
		}
		el = time.Since(t)
		fmt.Printf("add_membership %.1f %s\n", float64(el.Nanoseconds())/float64(n), result(last))
	}
}
