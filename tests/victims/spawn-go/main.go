// spawn-go: a cgo program that, like dockerd, starts other programs. Under libgvnet.so as a
// target (GVNET_TARGETS=spawn-go, GVNET_MODE=force on Linux) it carries gvnet's seccomp
// filter, which every program it starts inherits.
//
// Usage: spawn-go UID PROGRAM [ARGS...]
//
// Prints the Seccomp line of its own /proc/self/status ("seccomp: 2" = a filter is
// installed), drops to UID and executes PROGRAM. gvnet-harness's `descendants` scenario runs
// tests/victims/euid.c, installed setuid root, this way on the host kernel: it must print
// euid=0 and no_new_privs=0 with the filter as without it (gVisor ignores setuid bits and
// reports no_new_privs=1 for every task, so this part can only be shown on Linux).
package main

// /* No C code: importing "C" only makes this a cgo, dynamically linked binary. */
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: spawn-go UID PROGRAM [ARGS...]")
		os.Exit(2)
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Println("read /proc/self/status:", err)
		os.Exit(1)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "Seccomp:") {
			fmt.Printf("seccomp: %s\n", strings.TrimSpace(strings.TrimPrefix(l, "Seccomp:")))
		}
	}
	uid, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Println("bad uid:", os.Args[1])
		os.Exit(2)
	}
	if err := syscall.Setgid(uid); err != nil {
		fmt.Println("setgid:", err)
		os.Exit(1)
	}
	if err := syscall.Setuid(uid); err != nil {
		fmt.Println("setuid:", err)
		os.Exit(1)
	}
	err = syscall.Exec(os.Args[2], os.Args[2:], os.Environ())
	fmt.Println("exec:", err)
	os.Exit(1)
}
