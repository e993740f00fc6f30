// nlconform-go: the netlink conformance transcript of ../nlconform.c, issued
// through Go's syscall package.
//
// Go does not call libc for these: every call below ends in the runtime's one
// syscall instruction (runtime/internal/syscall.Syscall6 in Go 1.19,
// internal/runtime/syscall.Syscall6 in newer Go), which is what libgvnet.so's
// seccomp + SIGSYS engine traps in GVNET_TARGETS processes. The binary must
// be cgo (import "C" below) so that it is dynamically linked: LD_PRELOAD then
// loads libgvnet.so and Go installs its signal handlers through libc
// sigaction.
//
// The output must be identical, line for line, to nlconform.c's on the same
// kernel (interceptor/tests/conformance.rs checks that too). See nlconform.c
// for the kernel behaviour each step exercises; the comments here only note
// where Go's API differs.
//
// Usage: nlconform-go [--kernel-groups | --sigsys-chain]
package main

// /* No C code: importing "C" only makes this a cgo, dynamically linked binary. */
import "C"

import (
	"bytes"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

const (
	solNetlink             = 270
	netlinkAddMembership   = 1
	netlinkDropMembership  = 2
	netlinkListMemberships = 9

	grpLink       = 1
	grpIPv4Ifaddr = 5
	grpIPv6Route  = 11
	grpNotJoined  = 7
	grpBrvlan     = 33
	grpOutOfRange = 1000

	sentinel = 0xaaaaaaaa
)

var (
	kernelGroupsFlag bool
	seqCounter       uint32 = 1000
)

var errnoNames = map[syscall.Errno]string{
	syscall.EPERM:           "EPERM",
	syscall.ENOENT:          "ENOENT",
	syscall.ESRCH:           "ESRCH",
	syscall.EBADF:           "EBADF",
	syscall.EAGAIN:          "EAGAIN",
	syscall.ENOMEM:          "ENOMEM",
	syscall.EACCES:          "EACCES",
	syscall.EFAULT:          "EFAULT",
	syscall.EBUSY:           "EBUSY",
	syscall.EINVAL:          "EINVAL",
	syscall.ENOTSOCK:        "ENOTSOCK",
	syscall.EDESTADDRREQ:    "EDESTADDRREQ",
	syscall.EMSGSIZE:        "EMSGSIZE",
	syscall.EPROTOTYPE:      "EPROTOTYPE",
	syscall.ENOPROTOOPT:     "ENOPROTOOPT",
	syscall.EPROTONOSUPPORT: "EPROTONOSUPPORT",
	syscall.EOPNOTSUPP:      "EOPNOTSUPP",
	syscall.EAFNOSUPPORT:    "EAFNOSUPPORT",
	syscall.EADDRINUSE:      "EADDRINUSE",
	syscall.EADDRNOTAVAIL:   "EADDRNOTAVAIL",
	syscall.ENOBUFS:         "ENOBUFS",
	syscall.EISCONN:         "EISCONN",
	syscall.ENOTCONN:        "ENOTCONN",
	syscall.ECONNREFUSED:    "ECONNREFUSED",
}

func errname(err error) string {
	e, ok := err.(syscall.Errno)
	if !ok {
		return "NOT-AN-ERRNO(" + err.Error() + ")"
	}
	if n, ok := errnoNames[e]; ok {
		return n
	}
	return "E" + strconv.Itoa(int(e))
}

// result prints the " = rc" / " = -1 ENAME" suffix for calls that return only
// an error (rc is 0 on success).
func result(err error) {
	if err != nil {
		fmt.Printf(" = -1 %s\n", errname(err))
	} else {
		fmt.Printf(" = 0\n")
	}
}

func zeroOrNot(v uint32) string {
	if v != 0 {
		return "nonzero"
	}
	return "zero"
}

func familyName(f uint16) string {
	switch f {
	case syscall.AF_NETLINK:
		return "AF_NETLINK"
	case syscall.AF_INET:
		return "AF_INET"
	case syscall.AF_UNSPEC:
		return "AF_UNSPEC"
	}
	return strconv.Itoa(int(f))
}

// readProcNetNetlink reads /proc/net/netlink with raw syscalls (no os.File, so
// no poller and no extra descriptors).
func readProcNetNetlink() ([]byte, error) {
	fd, err := syscall.Open("/proc/net/netlink", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	var out []byte
	buf := make([]byte, 8192)
	for {
		n, err := syscall.Read(fd, buf)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return out, nil
		}
		out = append(out, buf[:n]...)
	}
}

func kernelGroups(name string, fd int) {
	if !kernelGroupsFlag {
		return
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		fmt.Printf("kernel.groups(%s) = fstat failed %s\n", name, errname(err))
		return
	}
	data, err := readProcNetNetlink()
	if err != nil {
		fmt.Printf("kernel.groups(%s) = open failed %s\n", name, errname(err))
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		// sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		inode, err1 := strconv.ParseUint(f[9], 10, 64)
		groups, err2 := strconv.ParseUint(f[3], 16, 32)
		if err1 == nil && err2 == nil && inode == st.Ino {
			fmt.Printf("kernel.groups(%s) = 0x%08x\n", name, groups)
			return
		}
	}
	fmt.Printf("kernel.groups(%s) = not found\n", name)
}

func doSocket(name string, domain, typ, proto int) int {
	fd, err := syscall.Socket(domain, typ, proto)
	fmt.Printf("socket(%s)", name)
	if err != nil {
		fmt.Printf(" = -1 %s\n", errname(err))
		return -1
	}
	fmt.Printf(" = fd\n")
	return fd
}

// doBind uses syscall.Bind with a *SockaddrNetlink (as vishvananda/netlink
// does) when addrlen is the full 12 bytes, and a raw bind(2) for a short one.
func doBind(name string, fd int, pid, groups uint32, addrlen int, pidDesc string) {
	var err error
	if addrlen == syscall.SizeofSockaddrNetlink {
		err = syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK, Pid: pid, Groups: groups})
	} else {
		raw := syscall.RawSockaddrNetlink{Family: syscall.AF_NETLINK, Pid: pid, Groups: groups}
		_, _, e := syscall.Syscall(syscall.SYS_BIND, uintptr(fd), uintptr(unsafe.Pointer(&raw)), uintptr(addrlen))
		if e != 0 {
			err = e
		}
	}
	fmt.Printf("bind(%s, pid=%s, groups=0x%x, addrlen=%d)", name, pidDesc, groups, addrlen)
	result(err)
}

// doConnect: syscall.Connect for AF_NETLINK; the syscall package has no
// AF_UNSPEC Sockaddr, so the disconnect is a raw connect(2).
func doConnect(name string, fd int, family uint16, pid, groups uint32) {
	var err error
	if family == syscall.AF_NETLINK {
		err = syscall.Connect(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK, Pid: pid, Groups: groups})
	} else {
		raw := syscall.RawSockaddrNetlink{Family: family, Pid: pid, Groups: groups}
		_, _, e := syscall.Syscall(syscall.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&raw)), syscall.SizeofSockaddrNetlink)
		if e != 0 {
			err = e
		}
	}
	fam := "AF_UNSPEC"
	if family == syscall.AF_NETLINK {
		fam = "AF_NETLINK"
	}
	fmt.Printf("connect(%s, family=%s, pid=%d, groups=0x%x)", name, fam, pid, groups)
	result(err)
}

// doGetname issues getsockname/getpeername exactly as syscall.Getsockname
// does (a RawSockaddrAny, addrlen 112) but raw, to see the returned addrlen,
// which the syscall package drops. It then calls syscall.Getsockname /
// Getpeername too and prints a MISMATCH line if the two disagree.
func doGetname(name string, fd int, peer bool) uint32 {
	var rsa syscall.RawSockaddrAny
	for i := range rsa.Pad {
		rsa.Pad[i] = -86 // 0xaa
	}
	l := uint32(syscall.SizeofSockaddrAny)
	nr := uintptr(syscall.SYS_GETSOCKNAME)
	call := "getsockname"
	if peer {
		nr = syscall.SYS_GETPEERNAME
		call = "getpeername"
	}
	_, _, e := syscall.RawSyscall(nr, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&l)))
	fmt.Printf("%s(%s)", call, name)
	var sa syscall.Sockaddr
	var err error
	if peer {
		sa, err = syscall.Getpeername(fd)
	} else {
		sa, err = syscall.Getsockname(fd)
	}
	if e != 0 {
		fmt.Printf(" = -1 %s\n", errname(e))
		if err == nil || err != error(e) {
			fmt.Printf("MISMATCH syscall.%s: %v\n", call, err)
		}
		return 0
	}
	nl := (*syscall.RawSockaddrNetlink)(unsafe.Pointer(&rsa))
	fmt.Printf(" = 0 addrlen=%d family=%s pid=%s groups=0x%x\n", l, familyName(nl.Family), zeroOrNot(nl.Pid), nl.Groups)
	if snl, ok := sa.(*syscall.SockaddrNetlink); err != nil || !ok || snl.Pid != nl.Pid || snl.Groups != nl.Groups {
		fmt.Printf("MISMATCH syscall.%s: %#v %v\n", call, sa, err)
	}
	return nl.Pid
}

func doGetnameShort(name string, fd int) {
	var raw syscall.RawSockaddrNetlink
	p := (*[syscall.SizeofSockaddrNetlink]byte)(unsafe.Pointer(&raw))
	for i := range p {
		p[i] = 0xaa
	}
	l := uint32(8)
	_, _, e := syscall.RawSyscall(syscall.SYS_GETSOCKNAME, uintptr(fd), uintptr(unsafe.Pointer(&raw)), uintptr(unsafe.Pointer(&l)))
	fmt.Printf("getsockname(%s, addrlen_in=8)", name)
	if e != 0 {
		fmt.Printf(" = -1 %s\n", errname(e))
		return
	}
	state := "written"
	if raw.Groups == sentinel {
		state = "untouched"
	}
	fmt.Printf(" = 0 addrlen=%d family=%s groups_field=%s\n", l, familyName(raw.Family), state)
}

// doMembership: syscall.SetsockoptInt for the normal 4-byte option, a raw
// setsockopt(2) for the odd lengths.
func doMembership(name string, fd, opt, group, optlen int) {
	var err error
	if optlen == 4 {
		err = syscall.SetsockoptInt(fd, solNetlink, opt, group)
	} else {
		val := [2]int32{int32(group), 0}
		_, _, e := syscall.Syscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), solNetlink, uintptr(opt),
			uintptr(unsafe.Pointer(&val[0])), uintptr(optlen), 0)
		if e != 0 {
			err = e
		}
	}
	o := "DROP_MEMBERSHIP"
	if opt == netlinkAddMembership {
		o = "ADD_MEMBERSHIP"
	}
	fmt.Printf("setsockopt(%s, SOL_NETLINK, %s, %d, optlen=%d)", name, o, group, optlen)
	result(err)
}

// doList: getsockopt(SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS) through
// syscall.Syscall6 (the syscall package has no getsockopt for it).
func doList(name string, fd, buflen int) {
	var buf [64]uint32
	for i := range buf {
		buf[i] = sentinel
	}
	l := int32(buflen)
	_, _, e := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), solNetlink, netlinkListMemberships,
		uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&l)), 0)
	fmt.Printf("getsockopt(%s, SOL_NETLINK, LIST_MEMBERSHIPS, buflen=%d)", name, buflen)
	if e != 0 {
		fmt.Printf(" = -1 %s\n", errname(e))
		return
	}
	last := -1
	for i, w := range buf {
		if w != sentinel {
			last = i
		}
	}
	var sb strings.Builder
	for i := 0; i <= last; i++ {
		if i > 0 {
			sb.WriteString(" ")
		}
		if buf[i] == sentinel {
			sb.WriteString("----")
		} else {
			fmt.Fprintf(&sb, "0x%08x", buf[i])
		}
	}
	fmt.Printf(" = 0 optlen=%d [%s]\n", l, sb.String())
}

// badPointers: bad user pointers (NULL, 0x10), see bad_pointers in
// nlconform.c. Raw syscalls: the syscall package never passes these.
func badPointers(name string, fd int, bad uintptr, label string) {
	sys := func(nr, a1, a2, a3, a4, a5 uintptr) error {
		_, _, e := syscall.Syscall6(nr, a1, a2, a3, a4, a5, 0)
		if e != 0 {
			return e
		}
		return nil
	}
	var sa syscall.RawSockaddrNetlink
	l := uint32(syscall.SizeofSockaddrNetlink)
	f := uintptr(fd)

	err := sys(syscall.SYS_BIND, f, bad, syscall.SizeofSockaddrNetlink, 0, 0)
	fmt.Printf("bind(%s, addr=%s, addrlen=12)", name, label)
	result(err)

	err = sys(syscall.SYS_GETSOCKNAME, f, bad, uintptr(unsafe.Pointer(&l)), 0, 0)
	fmt.Printf("getsockname(%s, addr=%s)", name, label)
	result(err)

	err = sys(syscall.SYS_GETSOCKNAME, f, uintptr(unsafe.Pointer(&sa)), bad, 0, 0)
	fmt.Printf("getsockname(%s, addrlen=%s)", name, label)
	result(err)

	err = sys(syscall.SYS_SETSOCKOPT, f, solNetlink, netlinkAddMembership, bad, 4)
	fmt.Printf("setsockopt(%s, SOL_NETLINK, ADD_MEMBERSHIP, optval=%s, optlen=4)", name, label)
	result(err)

	ol := int32(8)
	err = sys(syscall.SYS_GETSOCKOPT, f, solNetlink, netlinkListMemberships, bad, uintptr(unsafe.Pointer(&ol)))
	fmt.Printf("getsockopt(%s, SOL_NETLINK, LIST_MEMBERSHIPS, optval=%s, optlen=8)", name, label)
	result(err)

	err = sys(syscall.SYS_GETSOCKOPT, f, solNetlink, netlinkListMemberships, uintptr(unsafe.Pointer(&sa)), bad)
	fmt.Printf("getsockopt(%s, SOL_NETLINK, LIST_MEMBERSHIPS, optlen=%s)", name, label)
	result(err)

	// With a NULL address sendto would send (the address is optional).
	if bad != 0 {
		x := []byte("x")
		n, _, e := syscall.Syscall6(syscall.SYS_SENDTO, f, uintptr(unsafe.Pointer(&x[0])), 1, 0, bad, syscall.SizeofSockaddrNetlink)
		fmt.Printf("sendto(%s, 1 byte, to=%s, addrlen=12)", name, label)
		if e != 0 {
			result(e)
		} else {
			fmt.Printf(" = %d\n", n)
		}
	}
}

// getlinkReq builds an RTM_GETLINK dump request: nlmsghdr + ifinfomsg, 32 bytes.
func getlinkReq(seq uint32) []byte {
	b := make([]byte, syscall.NLMSG_HDRLEN+syscall.SizeofIfInfomsg)
	h := (*syscall.NlMsghdr)(unsafe.Pointer(&b[0]))
	h.Len = uint32(len(b))
	h.Type = syscall.RTM_GETLINK
	h.Flags = syscall.NLM_F_REQUEST | syscall.NLM_F_DUMP
	h.Seq = seq
	b[syscall.NLMSG_HDRLEN] = syscall.AF_UNSPEC
	return b
}

// readDump: see read_dump in nlconform.c (why only our seq and these types
// count: the multicast echo of a request sent to a group).
func readDump(name string, fd int, seq uint32) {
	buf := make([]byte, 65536)
	done, lo, errv := 0, 0, 0
	for rounds := 0; done == 0 && errv == 0 && rounds < 10000; rounds++ {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			fmt.Printf("recv(%s, dump) = -1 %s\n", name, errname(err))
			return
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			fmt.Printf("recv(%s, dump) unparsable: %v\n", name, err)
			return
		}
		for i := range msgs {
			m := &msgs[i]
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case syscall.NLMSG_DONE:
				done = 1
			case syscall.NLMSG_ERROR:
				e := int32(-1)
				if len(m.Data) >= 4 {
					e = *(*int32)(unsafe.Pointer(&m.Data[0]))
				}
				if e != 0 {
					errv = int(-e)
				} else {
					errv = -1
				}
			case syscall.RTM_NEWLINK:
				attrs, err := syscall.ParseNetlinkRouteAttr(m)
				if err != nil {
					continue
				}
				for _, a := range attrs {
					if a.Attr.Type == syscall.IFLA_IFNAME && bytes.Equal(a.Value, []byte("lo\x00")) {
						lo = 1
					}
				}
			}
		}
	}
	e := "none"
	if errv > 0 {
		e = errname(syscall.Errno(errv))
	} else if errv < 0 {
		e = "ack"
	}
	fmt.Printf("recv(%s, dump) done=%d lo=%d error=%s\n", name, done, lo, e)
}

// doSendtoDump uses syscall.Sendto, as vishvananda/netlink does. It returns
// only an error, so the printed count is len(req): a datagram is sent whole
// or not at all. doSendmsgDump below checks a real count.
func doSendtoDump(name string, fd int, pid, groups uint32) {
	seqCounter++
	seq := seqCounter
	req := getlinkReq(seq)
	err := syscall.Sendto(fd, req, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK, Pid: pid, Groups: groups})
	fmt.Printf("sendto(%s, RTM_GETLINK dump, to pid=%d groups=0x%x)", name, pid, groups)
	if err != nil {
		fmt.Printf(" = -1 %s\n", errname(err))
		return
	}
	fmt.Printf(" = %d\n", len(req))
	readDump(name, fd, seq)
}

func doSendmsgDump(name string, fd int, pid, groups uint32) {
	seqCounter++
	seq := seqCounter
	req := getlinkReq(seq)
	n, err := syscall.SendmsgN(fd, req, nil, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK, Pid: pid, Groups: groups}, 0)
	fmt.Printf("sendmsg(%s, RTM_GETLINK dump, name pid=%d groups=0x%x)", name, pid, groups)
	if err != nil {
		fmt.Printf(" = -1 %s\n", errname(err))
		return
	}
	fmt.Printf(" = %d\n", n)
	readDump(name, fd, seq)
}

// doSendDump: sendto(2) with no address (what send(3) is), raw to see the count.
func doSendDump(name string, fd int) {
	seqCounter++
	seq := seqCounter
	req := getlinkReq(seq)
	n, _, e := syscall.Syscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&req[0])), uintptr(len(req)), 0, 0, 0)
	fmt.Printf("send(%s, RTM_GETLINK dump, connected)", name)
	if e != 0 {
		fmt.Printf(" = -1 %s\n", errname(e))
		return
	}
	fmt.Printf(" = %d\n", n)
	readDump(name, fd, seq)
}

func doClose(name string, fd int) {
	err := syscall.Close(fd)
	fmt.Printf("close(%s)", name)
	result(err)
}

func setRcvtimeo(fd int) {
	// Plumbing, not printed: a lost reply must not hang the test.
	tv := syscall.Timeval{Sec: 5}
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
}

func udpControls() {
	fd := doSocket("udp", syscall.AF_INET, syscall.SOCK_DGRAM, 0)
	if fd < 0 {
		return
	}
	setRcvtimeo(fd)

	err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK, Groups: 1})
	fmt.Printf("bind(udp, sockaddr_nl groups=0x1)")
	result(err)

	err = syscall.SetsockoptInt(fd, solNetlink, netlinkAddMembership, grpLink)
	fmt.Printf("setsockopt(udp, SOL_NETLINK, ADD_MEMBERSHIP, 1, optlen=4)")
	result(err)
	var words [4]uint32
	l := int32(16)
	_, _, e := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), solNetlink, netlinkListMemberships,
		uintptr(unsafe.Pointer(&words[0])), uintptr(unsafe.Pointer(&l)), 0)
	fmt.Printf("getsockopt(udp, SOL_NETLINK, LIST_MEMBERSHIPS, buflen=16)")
	if e != 0 {
		result(e)
	} else {
		result(nil)
	}

	err = syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	fmt.Printf("bind(udp, 127.0.0.1:0)")
	result(err)

	var rsa syscall.RawSockaddrAny
	sl := uint32(syscall.SizeofSockaddrInet4)
	_, _, e = syscall.RawSyscall(syscall.SYS_GETSOCKNAME, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&sl)))
	fmt.Printf("getsockname(udp)")
	var self syscall.SockaddrInet4
	if e != 0 {
		fmt.Printf(" = -1 %s\n", errname(e))
	} else {
		in := (*syscall.RawSockaddrInet4)(unsafe.Pointer(&rsa))
		port := uint32(in.Port)
		fmt.Printf(" = 0 addrlen=%d family=%s addr=%d.%d.%d.%d port=%s\n", sl, familyName(in.Family),
			in.Addr[0], in.Addr[1], in.Addr[2], in.Addr[3], zeroOrNot(port))
		self.Addr = in.Addr
		p := (*[2]byte)(unsafe.Pointer(&in.Port))
		self.Port = int(p[0])<<8 | int(p[1])
	}

	// Through syscall.Sendto (count not returned: len on success, see above).
	err = syscall.Sendto(fd, []byte("ping"), 0, &self)
	fmt.Printf("sendto(udp, \"ping\", to self)")
	if err != nil {
		fmt.Printf(" = -1 %s\n", errname(err))
	} else {
		fmt.Printf(" = 4\n")
	}

	buf := make([]byte, 64)
	n, _, err := syscall.Recvfrom(fd, buf, 0)
	fmt.Printf("recv(udp)")
	if err != nil {
		fmt.Printf(" = -1 %s\n", errname(err))
	} else {
		fmt.Printf(" = %d data=%q\n", n, string(buf[:n]))
	}

	doClose("udp", fd)
}

// sigsysChain checks that a SIGSYS gvnet did not cause still reaches the
// program: Go installs its SIGSYS handler through libc sigaction, which
// libgvnet.so records while its own handler stays in the kernel; a SIGSYS that
// is not one of gvnet's traps must be handed to Go's handler, which queues it
// for signal.Notify. A trapped call (bind with groups) runs first, so under
// gvnet the handler in the kernel is gvnet's when the signal arrives.
func sigsysChain() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGSYS)
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_ROUTE)
	if err != nil {
		fmt.Printf("socket: %v\n", err)
		os.Exit(1)
	}
	err = syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK, Groups: 1})
	if err != nil {
		fmt.Printf("bind(route, groups=0x1) = -1 %s\n", errname(err))
	} else {
		fmt.Printf("bind(route, groups=0x1) = 0\n")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGSYS); err != nil {
		fmt.Printf("kill: %v\n", err)
		os.Exit(1)
	}
	select {
	case s := <-ch:
		fmt.Printf("sigsys: delivered to the program's handler (%v)\n# end\n", s)
	case <-time.After(5 * time.Second):
		fmt.Printf("sigsys: NOT delivered within 5s\n")
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "--kernel-groups":
			kernelGroupsFlag = true
		case "--sigsys-chain":
			sigsysChain()
			return
		default:
			fmt.Fprintf(os.Stderr, "usage: %s [--kernel-groups | --sigsys-chain]\n", os.Args[0])
			os.Exit(2)
		}
	}
	const nlLen = syscall.SizeofSockaddrNetlink
	bit := func(g int) uint32 { return 1 << (g - 1) }

	fmt.Printf("# nlconform transcript v1\n")

	a := doSocket("route", syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_ROUTE)
	if a < 0 {
		os.Exit(1)
	}
	setRcvtimeo(a)
	doList("route", a, 256)
	doBind("route", a, 0, bit(grpLink), 8, "0")
	doGetname("route", a, false)
	doList("route", a, 256)

	doBind("route", a, 0, bit(grpLink), nlLen, "0")
	kernelGroups("route", a)
	pidA := doGetname("route", a, false)
	doGetnameShort("route", a)
	doList("route", a, 256)

	badPointers("route", a, 0, "NULL")
	badPointers("route", a, 16, "0x10")
	doGetname("route", a, false)

	doSendtoDump("route", a, 0, bit(grpLink))

	doMembership("route", a, netlinkAddMembership, grpIPv4Ifaddr, 4)
	doMembership("route", a, netlinkAddMembership, grpIPv6Route, 4)
	doMembership("route", a, netlinkAddMembership, grpBrvlan, 4)
	kernelGroups("route", a)
	doMembership("route", a, netlinkAddMembership, grpOutOfRange, 4)
	doMembership("route", a, netlinkAddMembership, 0, 4)
	doMembership("route", a, netlinkAddMembership, grpIPv4Ifaddr, 2)
	doMembership("route", a, netlinkAddMembership, grpIPv4Ifaddr, 8)
	doGetname("route", a, false)
	doList("route", a, 256)
	doList("route", a, 4)
	doList("route", a, 6)
	doList("route", a, 0)
	doList("route", a, -1)

	doMembership("route", a, netlinkDropMembership, grpIPv4Ifaddr, 4)
	doMembership("route", a, netlinkDropMembership, grpNotJoined, 4)
	doMembership("route", a, netlinkDropMembership, grpOutOfRange, 4)
	doMembership("route", a, netlinkDropMembership, 0, 4)
	kernelGroups("route", a)
	doGetname("route", a, false)
	doList("route", a, 256)

	doBind("route", a, 0, 0, nlLen, "0")
	doGetname("route", a, false)
	doBind("route", a, pidA, 0, nlLen, "own")
	kernelGroups("route", a)
	doGetname("route", a, false)
	doList("route", a, 256)
	doBind("route", a, pidA, bit(grpIPv4Ifaddr), nlLen, "own")
	kernelGroups("route", a)
	doGetname("route", a, false)
	doList("route", a, 256)

	doSendmsgDump("route", a, 0, bit(grpLink))
	doSendtoDump("route", a, 0, 0)

	doConnect("route", a, syscall.AF_NETLINK, 0, 0x14)
	doGetname("route", a, true)
	doGetname("route", a, false)
	kernelGroups("route", a)
	doSendDump("route", a)
	doConnect("route", a, syscall.AF_UNSPEC, 0, 0)
	doGetname("route", a, true)

	d, err := syscall.Dup(a)
	if err != nil {
		fmt.Printf("dup(route) = -1\n")
	} else {
		fmt.Printf("dup(route) = fd\n")
	}
	doGetname("route-dup", d, false)
	doList("route-dup", d, 256)
	doClose("route-dup", d)
	doGetname("route", a, false)

	b := doSocket("route2", syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_ROUTE)
	doMembership("route2", b, netlinkAddMembership, grpIPv4Ifaddr, 4)
	kernelGroups("route2", b)
	doGetname("route2", b, false)
	doList("route2", b, 256)
	doBind("route2", b, 0, bit(grpLink), nlLen, "0")
	kernelGroups("route2", b)
	doGetname("route2", b, false)
	doList("route2", b, 256)
	doClose("route2", b)

	u := doSocket("uevent", syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, syscall.NETLINK_KOBJECT_UEVENT)
	doBind("uevent", u, 0, 1, nlLen, "0")
	kernelGroups("uevent", u)
	doGetname("uevent", u, false)
	doList("uevent", u, 256)
	doClose("uevent", u)

	doClose("route", a)
	doGetname("route-closed", a, false)
	c := doSocket("route3", syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_ROUTE)
	reuse := "no"
	if c == a {
		reuse = "yes"
	}
	fmt.Printf("route3 reuses route's fd: %s\n", reuse)
	doGetname("route3", c, false)
	doList("route3", c, 256)
	doBind("route3", c, 0, 0, nlLen, "0")
	doGetname("route3", c, false)
	doList("route3", c, 256)
	doClose("route3", c)

	udpControls()

	fmt.Printf("# end\n")
}
