// layers-go: which of gvnet's seccomp layers a Go target (like dockerd) carries before and
// after its first netlink call, and which a program it starts inherits at each point.
//
// Under libgvnet.so as a target (GVNET_TARGETS=layers-go, GVNET_MODE=force on Linux) the
// constructor installs the base layer; the first trap (the bind of net.Interfaces' netlink
// socket) adds the late layer. Linux counts a task's filters in the Seccomp_filters line of
// /proc/PID/status (5.10+); gVisor has no such line.
//
// Prints three lines, "start", "after" and "again", each "own=N child=M": this process's
// count and that of a `cat` started at that point. "after" follows one net.Interfaces(),
// "again" a second. Exits 1 when a step fails.
package main

// /* No C code: importing "C" only makes this a cgo, dynamically linked binary, which
// LD_PRELOAD reaches. */
import "C"

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
)

func count(status string) string {
	for _, l := range strings.Split(status, "\n") {
		if strings.HasPrefix(l, "Seccomp_filters:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "Seccomp_filters:"))
		}
	}
	return "none"
}

func report(step string) {
	own, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Fprintln(os.Stderr, "reading /proc/self/status:", err)
		os.Exit(1)
	}
	child, err := exec.Command("cat", "/proc/self/status").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "running cat:", err)
		os.Exit(1)
	}
	fmt.Printf("%s own=%s child=%s\n", step, count(string(own)), count(string(child)))
}

func interfaces() {
	ifs, err := net.Interfaces()
	if err != nil || len(ifs) == 0 {
		fmt.Fprintln(os.Stderr, "net.Interfaces:", ifs, err)
		os.Exit(1)
	}
}

func main() {
	report("start")
	interfaces()
	report("after")
	interfaces()
	report("again")
}
