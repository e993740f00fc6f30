// gvstress: many threads issuing the calls gvnet traps while other threads fork, exec and
// take signals. Run by interceptor/tests/stress.rs under LD_PRELOAD=libgvnet.so with
// GVNET_MODE=force and GVNET_TARGETS=gvstress (so this process installs the seccomp filter
// and the SIGSYS handler), and on the host kernel alone as the reference.
//
// Workers (one OS thread each, Go's raw syscall site, all trapped by gvnet's filter):
// socket(NETLINK_ROUTE), bind with nl_groups, setsockopt ADD_MEMBERSHIP, getsockname,
// getsockopt LIST_MEMBERSHIPS, sendto a group, close; each answer is checked against Linux's.
// Meanwhile: a forker (cgo fork() without exec: the child inherits filter and handler and makes
// the same calls through libc, then _exit), an execer (re-executes this binary with -child:
// a fresh gvnet in a process that inherited the parent's filter layer), and signal traffic:
// SIGUSR1/SIGUSR2/SIGSYS sent by this process to itself and, from outside, by the test.
//
// A watchdog thread checks that every worker advances; a stuck worker prints "DEADLOCK" and
// exits 3 (a wholly stuck process is caught by the test's timeout). Wrong answers exit 2.
// At the end it prints "ok ..." with counts and exits 0.
//
// Usage: gvstress [-seconds N] [-threads N] | gvstress -child
package main

/*
#include <errno.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

// Forks; the child binds a NETLINK_ROUTE socket with groups through libc (gvnet's hook in the
// child: the handler and the filter are inherited across fork), checks getsockname, _exits.
// Returns the child's wait status, or -errno.
static int fork_child(void) {
	pid_t pid = fork();
	if (pid < 0) return -errno;
	if (pid == 0) {
		int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
		if (fd < 0) _exit(10);
		struct sockaddr_nl sa;
		memset(&sa, 0, sizeof sa);
		sa.nl_family = AF_NETLINK;
		sa.nl_groups = 1;
		if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) _exit(11);
		struct sockaddr_nl got;
		socklen_t len = sizeof got;
		memset(&got, 0, sizeof got);
		if (getsockname(fd, (struct sockaddr *)&got, &len) != 0) _exit(12);
		if (got.nl_groups != 1) _exit(13);
		close(fd);
		_exit(0);
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) return -errno;
	}
	return status;
}
*/
import "C"

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

const (
	solNetlink             = 270
	netlinkAddMembership   = 1
	netlinkListMemberships = 9
	rtmgrpLink             = 1
	grpIPv4Ifaddr          = 5
)

var failed int32

func fail(format string, a ...interface{}) {
	if atomic.CompareAndSwapInt32(&failed, 0, 1) {
		fmt.Printf("FAIL "+format+"\n", a...)
		os.Exit(2)
	}
	select {} // another thread is exiting
}

// retry repeats a call interrupted by a signal (Go's syscall package does not).
func retry(f func() error) error {
	for {
		err := f()
		if err != syscall.EINTR {
			return err
		}
	}
}

// round issues one sequence of trapped calls on a fresh socket and checks the answers.
func round(w int) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_ROUTE)
	if err != nil {
		if err == syscall.EMFILE || err == syscall.ENFILE || err == syscall.ENOBUFS {
			return
		}
		fail("worker %d: socket: %v", w, err)
	}
	defer syscall.Close(fd)
	if err := retry(func() error { return syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK, Groups: rtmgrpLink}) }); err != nil {
		fail("worker %d: bind with groups: %v", w, err)
	}
	if err := retry(func() error { return syscall.SetsockoptInt(fd, solNetlink, netlinkAddMembership, grpIPv4Ifaddr) }); err != nil {
		fail("worker %d: ADD_MEMBERSHIP: %v", w, err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		fail("worker %d: getsockname: %v", w, err)
	}
	want := uint32(rtmgrpLink | 1<<(grpIPv4Ifaddr-1))
	if nl, ok := sa.(*syscall.SockaddrNetlink); !ok || nl.Groups != want {
		fail("worker %d: getsockname: %#v, want groups %#x", w, sa, want)
	}
	var words [2]uint32
	l := uint32(8)
	_, _, e := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), solNetlink, netlinkListMemberships,
		uintptr(unsafe.Pointer(&words[0])), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 || words[0] != want || l != 8 {
		fail("worker %d: LIST_MEMBERSHIPS: %v %#x len %d, want %#x len 8", w, e, words[0], l, want)
	}
	// An NLMSG_NOOP to group 1 (Linux delivers it to no one: the kernel does not listen).
	msg := make([]byte, 16)
	*(*uint32)(unsafe.Pointer(&msg[0])) = 16
	*(*uint16)(unsafe.Pointer(&msg[4])) = syscall.NLMSG_NOOP
	if err := retry(func() error { return syscall.Sendto(fd, msg, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK, Groups: rtmgrpLink}) }); err != nil {
		fail("worker %d: sendto group: %v", w, err)
	}
	// Bad input the kernel refuses: must be refused the same way, not crash.
	_, _, e = syscall.Syscall(syscall.SYS_BIND, uintptr(fd), 16, 12) // unmapped address
	if e != syscall.EFAULT {
		fail("worker %d: bind with address 16: %v, want EFAULT", w, e)
	}
	_, _, e = syscall.Syscall(syscall.SYS_GETSOCKNAME, uintptr(fd), 0, 0)
	if e != syscall.EFAULT {
		fail("worker %d: getsockname(NULL, NULL): %v, want EFAULT", w, e)
	}
}

func child() {
	round(-1)
	fmt.Println("child ok")
}

func main() {
	seconds := flag.Int("seconds", 10, "how long to run")
	threads := flag.Int("threads", 16, "workers issuing trapped calls")
	isChild := flag.Bool("child", false, "one round of calls, then exit (run by the execer)")
	flag.Parse()
	if *isChild {
		child()
		return
	}

	var sigsys, usr1, usr2 int64
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, syscall.SIGSYS, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		for s := range sigs {
			switch s {
			case syscall.SIGSYS:
				atomic.AddInt64(&sigsys, 1)
			case syscall.SIGUSR1:
				atomic.AddInt64(&usr1, 1)
			case syscall.SIGUSR2:
				atomic.AddInt64(&usr2, 1)
			}
		}
	}()

	fmt.Println("ready") // the test sends signals from outside from now on
	deadline := time.Now().Add(time.Duration(*seconds) * time.Second)
	counts := make([]int64, *threads)
	done := make(chan struct{})
	var running int32
	for w := 0; w < *threads; w++ {
		atomic.AddInt32(&running, 1)
		go func(w int) {
			runtime.LockOSThread()
			defer atomic.AddInt32(&running, -1)
			for time.Now().Before(deadline) {
				round(w)
				atomic.AddInt64(&counts[w], 1)
			}
		}(w)
	}

	var forks, execs, selfSignals int64
	go func() { // forker
		runtime.LockOSThread()
		for time.Now().Before(deadline) {
			st := C.fork_child()
			if st < 0 {
				fail("fork: errno %d", -st)
			}
			ws := syscall.WaitStatus(st)
			if !ws.Exited() || ws.ExitStatus() != 0 {
				fail("forked child: status %#x (exit %d, signal %v)", int(st), ws.ExitStatus(), ws.Signal())
			}
			atomic.AddInt64(&forks, 1)
		}
	}()
	go func() { // execer
		self, err := os.Executable()
		if err != nil {
			fail("os.Executable: %v", err)
		}
		for time.Now().Before(deadline) {
			out, err := exec.Command(self, "-child").CombinedOutput()
			if err != nil || string(out) != "child ok\n" {
				fail("exec'd child: %v, output %q", err, out)
			}
			atomic.AddInt64(&execs, 1)
		}
	}()
	go func() { // signals to itself, to whichever thread the kernel picks
		pid := syscall.Getpid()
		for time.Now().Before(deadline) {
			for _, s := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGSYS} {
				if err := syscall.Kill(pid, s); err != nil {
					fail("kill %v: %v", s, err)
				}
				atomic.AddInt64(&selfSignals, 1)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	go func() { // watchdog: every worker must advance within 10 s
		last := make([]int64, len(counts))
		for {
			time.Sleep(10 * time.Second)
			select {
			case <-done:
				return
			default:
			}
			for w := range counts {
				c := atomic.LoadInt64(&counts[w])
				if c == last[w] && time.Now().Before(deadline) {
					fmt.Printf("DEADLOCK worker %d made no progress in 10 s (%d rounds)\n", w, c)
					os.Exit(3)
				}
				last[w] = c
			}
		}
	}()

	for atomic.LoadInt32(&running) > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	close(done)
	time.Sleep(100 * time.Millisecond) // let queued signals be counted
	var total int64
	for w := range counts {
		if counts[w] == 0 {
			fail("worker %d made no round", w)
		}
		total += counts[w]
	}
	fmt.Printf("ok rounds=%d forks=%d execs=%d self_signals=%d sigsys=%d usr1=%d usr2=%d\n",
		total, atomic.LoadInt64(&forks), atomic.LoadInt64(&execs), atomic.LoadInt64(&selfSignals),
		atomic.LoadInt64(&sigsys), atomic.LoadInt64(&usr1), atomic.LoadInt64(&usr2))
}
