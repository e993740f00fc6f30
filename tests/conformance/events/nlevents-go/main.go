// nlevents-go: conformance test of rtnetlink event delivery to a Go subscriber that uses
// vishvananda/netlink (LinkSubscribeWithOptions, AddrSubscribeWithOptions,
// RouteSubscribeWithOptions, with and without ListExisting). Go issues its socket calls as raw
// syscalls, so under libgvnet.so only the seccomp/SIGSYS path sees them.
//
// Run it in a fresh network namespace (`unshare -n nlevents-go`); it makes its own changes with
// `ip` and expects the events Linux sends for them. Output, one line per check:
//
//	ok NAME | FAIL NAME: why | unsupported-here NAME: why
//
// then `# end: N ok, N failed, N unsupported`; exit status 1 when any check failed.
// "unsupported-here" means the kernel refused the change with EOPNOTSUPP, or accepted it and the
// object as listed afterwards did not change (so Linux semantics demand no event either).
//
// Built in GOPATH mode against Debian's packaged sources:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode CGO_ENABLED=1 go build
//
// It is a cgo binary (see cgo.go): dynamically linked, so LD_PRELOAD applies to it.
package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const timeout = 3 * time.Second

var nOK, nFail, nUnsup, timeoutsInARow int

func ok(name string) {
	fmt.Printf("ok %s\n", name)
	nOK++
}

func fail(name, format string, args ...interface{}) {
	fmt.Printf("FAIL %s: %s\n", name, fmt.Sprintf(format, args...))
	nFail++
}

func unsupported(name, format string, args ...interface{}) {
	fmt.Printf("unsupported-here %s: %s\n", name, fmt.Sprintf(format, args...))
	nUnsup++
}

func finish() {
	fmt.Printf("# end: %d ok, %d failed, %d unsupported\n", nOK, nFail, nUnsup)
	if nFail > 0 {
		os.Exit(1)
	}
	os.Exit(0)
}

func timedOut(name, what string) {
	fail(name, "%s did not arrive within %v", what, timeout)
	timeoutsInARow++
	if timeoutsInARow >= 3 {
		fail("abort", "3 expected events in a row did not arrive; stopping")
		finish()
	}
}

// ip runs `ip args...`: 0 done, 1 refused as unsupported (reported), -1 failed (reported).
func ip(name string, args ...string) int {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err == nil {
		return 0
	}
	text := strings.TrimSpace(string(out))
	if strings.Contains(text, "not supported") {
		unsupported(name, "`ip %s` refused: %s", strings.Join(args, " "), text)
		return 1
	}
	fail(name, "`ip %s` failed (%v): %s", strings.Join(args, " "), err, text)
	return -1
}

func quietIP(args ...string) {
	_ = exec.Command("ip", args...).Run()
}

// A subscription, and whether the test has ended it (errors after that are the receive loop
// noticing its closed socket, not findings).
type subscription struct {
	which  string
	done   chan struct{}
	closed int32
}

func newSubscription(which string) *subscription {
	return &subscription{which: which, done: make(chan struct{})}
}

// errors reported by the library's receive loop (wrong sender, parse errors, recv errors).
func (s *subscription) callback(err error) {
	if atomic.LoadInt32(&s.closed) == 0 {
		fail("callback-"+s.which, "%v", err)
	}
}

// end closes the subscription. vishvananda/netlink sends a ListExisting dump request to an
// address that carries the subscribed groups, and Linux delivers a copy of that request to every
// other member of those groups (whose receive loop then reports "Wrong sender portid"): so only
// one subscription per kind is open at a time.
func (s *subscription) end() {
	atomic.StoreInt32(&s.closed, 1)
	close(s.done)
	time.Sleep(50 * time.Millisecond)
}

// waitLink returns the first update accepted by match within the timeout.
func waitLink(ch <-chan netlink.LinkUpdate, name, what string, match func(netlink.LinkUpdate) bool) (netlink.LinkUpdate, bool) {
	deadline := time.After(timeout)
	for {
		select {
		case u := <-ch:
			if match(u) {
				timeoutsInARow = 0
				return u, true
			}
		case <-deadline:
			timedOut(name, what)
			return netlink.LinkUpdate{}, false
		}
	}
}

func waitAddr(ch <-chan netlink.AddrUpdate, name, what string, match func(netlink.AddrUpdate) bool) (netlink.AddrUpdate, bool) {
	deadline := time.After(timeout)
	for {
		select {
		case u := <-ch:
			if match(u) {
				timeoutsInARow = 0
				return u, true
			}
		case <-deadline:
			timedOut(name, what)
			return netlink.AddrUpdate{}, false
		}
	}
}

func waitRoute(ch <-chan netlink.RouteUpdate, name, what string, match func(netlink.RouteUpdate) bool) (netlink.RouteUpdate, bool) {
	deadline := time.After(timeout)
	for {
		select {
		case u := <-ch:
			if match(u) {
				timeoutsInARow = 0
				return u, true
			}
		case <-deadline:
			timedOut(name, what)
			return netlink.RouteUpdate{}, false
		}
	}
}

// An event (not a dump reply) must not carry NLM_F_MULTI.
func eventHeader(name string, h unix.NlMsghdr) bool {
	if h.Flags&unix.NLM_F_MULTI != 0 {
		fail(name, "event has NLM_F_MULTI (flags 0x%x)", h.Flags)
		return false
	}
	return true
}

// The update's link must be what LinkByIndex lists now.
func sameAsListed(name string, u netlink.LinkUpdate) bool {
	now, err := netlink.LinkByIndex(int(u.Index))
	if err != nil {
		fail(name, "LinkByIndex(%d): %v", u.Index, err)
		return false
	}
	a, b := u.Link.Attrs(), now.Attrs()
	if a.Name != b.Name || a.MTU != b.MTU || a.HardwareAddr.String() != b.HardwareAddr.String() {
		fail(name, "event shows %s mtu %d address %s, the link is listed as %s mtu %d address %s",
			a.Name, a.MTU, a.HardwareAddr, b.Name, b.MTU, b.HardwareAddr)
		return false
	}
	return true
}

func freshNamespace() {
	links, err := netlink.LinkList()
	if err != nil {
		fail("fresh-netns", "LinkList: %v", err)
		finish()
	}
	var others []string
	for _, l := range links {
		if l.Attrs().Name != "lo" {
			others = append(others, l.Attrs().Name)
		}
	}
	if len(others) > 0 {
		fail("fresh-netns", "links other than lo exist here (%s); run this in a new network namespace (unshare -n)",
			strings.Join(others, " "))
		finish()
	}
}

func links() {
	ch := make(chan netlink.LinkUpdate, 1000)
	sub := newSubscription("link")
	if err := netlink.LinkSubscribeWithOptions(ch, sub.done, netlink.LinkSubscribeOptions{ErrorCallback: sub.callback}); err != nil {
		fail("link-subscribe", "LinkSubscribeWithOptions: %v", err)
		finish()
	}
	ok("link-subscribe")

	if ip("link-add", "link", "add", "eg0", "type", "veth", "peer", "name", "eg1") != 0 {
		finish()
	}
	quietIP("link", "add", "eg4", "type", "veth", "peer", "name", "eg5")
	u, got := waitLink(ch, "link-add", "RTM_NEWLINK eg0", func(u netlink.LinkUpdate) bool {
		return u.Header.Type == unix.RTM_NEWLINK && u.Link.Attrs().Name == "eg0"
	})
	if got && eventHeader("link-add", u.Header) && sameAsListed("link-add", u) {
		ok("link-add")
	}
	index := int32(0)
	if l, err := netlink.LinkByName("eg0"); err == nil {
		index = int32(l.Attrs().Index)
	}

	before, _ := netlink.LinkByIndex(int(index))
	if ip("link-mtu", "link", "set", "eg0", "mtu", "1400") == 0 {
		after, err := netlink.LinkByIndex(int(index))
		switch {
		case err != nil || before == nil:
			fail("link-mtu", "LinkByIndex(%d): %v", index, err)
		case after.Attrs().MTU == before.Attrs().MTU:
			unsupported("link-mtu", "`ip link set eg0 mtu 1400` was accepted but the listed MTU stayed %d", after.Attrs().MTU)
		default:
			u, got := waitLink(ch, "link-mtu", "RTM_NEWLINK eg0 with the new MTU", func(u netlink.LinkUpdate) bool {
				return u.Header.Type == unix.RTM_NEWLINK && u.Index == index && u.Link.Attrs().MTU == after.Attrs().MTU
			})
			if got && eventHeader("link-mtu", u.Header) && sameAsListed("link-mtu", u) {
				ok("link-mtu")
			}
		}
	}

	if ip("link-del", "link", "del", "eg4") == 0 {
		u, got := waitLink(ch, "link-del", "RTM_DELLINK eg4", func(u netlink.LinkUpdate) bool {
			return u.Header.Type == unix.RTM_DELLINK && u.Link.Attrs().Name == "eg4"
		})
		if got && eventHeader("link-del", u.Header) {
			ok("link-del")
		}
	}
	sub.end()

	// ListExisting: the dump first (lo and eg0 exist), then events.
	ch2 := make(chan netlink.LinkUpdate, 1000)
	sub2 := newSubscription("link-list")
	defer sub2.end()
	if err := netlink.LinkSubscribeWithOptions(ch2, sub2.done, netlink.LinkSubscribeOptions{ListExisting: true, ErrorCallback: sub2.callback}); err != nil {
		fail("link-list-existing", "LinkSubscribeWithOptions(ListExisting): %v", err)
	} else {
		seen := map[string]bool{}
		_, got := waitLink(ch2, "link-list-existing", "the existing links lo and eg0", func(u netlink.LinkUpdate) bool {
			if u.Header.Type == unix.RTM_NEWLINK {
				seen[u.Link.Attrs().Name] = true
			}
			return seen["lo"] && seen["eg0"]
		})
		if got {
			ok("link-list-existing")
		}
		if ip("link-list-then-event", "link", "add", "eg2", "type", "veth", "peer", "name", "eg3") == 0 {
			u, got := waitLink(ch2, "link-list-then-event", "RTM_NEWLINK eg2 after the listing", func(u netlink.LinkUpdate) bool {
				return u.Header.Type == unix.RTM_NEWLINK && u.Link.Attrs().Name == "eg2"
			})
			if got && eventHeader("link-list-then-event", u.Header) {
				ok("link-list-then-event")
			}
		}
	}
}

func addrs() {
	ch := make(chan netlink.AddrUpdate, 1000)
	sub := newSubscription("addr")
	if err := netlink.AddrSubscribeWithOptions(ch, sub.done, netlink.AddrSubscribeOptions{ErrorCallback: sub.callback}); err != nil {
		fail("addr-subscribe", "AddrSubscribeWithOptions: %v", err)
		return
	}
	ok("addr-subscribe")
	quietIP("link", "set", "eg0", "up")
	quietIP("link", "set", "eg1", "up")
	l, err := netlink.LinkByName("eg0")
	if err != nil {
		fail("addr4-add", "LinkByName(eg0): %v", err)
		return
	}
	index := l.Attrs().Index
	added := map[string]bool{}
	check := func(name string, newAddr bool, cidr string, args ...string) {
		if !newAddr && !added[cidr] {
			unsupported(name, "needs the add of %s to have been seen", cidr)
			return
		}
		if ip(name, args...) != 0 {
			return
		}
		want, _ := netlink.ParseIPNet(cidr)
		family := netlink.FAMILY_V4
		if want.IP.To4() == nil {
			family = netlink.FAMILY_V6
		}
		listed, err := netlink.AddrList(l, family)
		if err != nil {
			fail(name, "AddrList: %v", err)
			return
		}
		found := false
		for _, a := range listed {
			if a.IPNet.String() == want.String() {
				found = true
			}
		}
		if found != newAddr {
			unsupported(name, "`ip %s` was accepted but the address list %s %s", strings.Join(args, " "),
				map[bool]string{true: "still has", false: "does not have"}[found], cidr)
			return
		}
		u, got := waitAddr(ch, name, fmt.Sprintf("address update %s (new %v)", cidr, newAddr), func(u netlink.AddrUpdate) bool {
			return u.NewAddr == newAddr && u.LinkAddress.String() == want.String()
		})
		if !got {
			return
		}
		if u.LinkIndex != index {
			fail(name, "update for index %d, the address is on %d", u.LinkIndex, index)
			return
		}
		added[cidr] = newAddr
		ok(name)
	}
	check("addr4-add", true, "10.90.0.1/24", "addr", "add", "10.90.0.1/24", "dev", "eg0")
	check("addr6-add", true, "fd90::1/64", "-6", "addr", "add", "fd90::1/64", "dev", "eg0", "nodad")
	check("addr6-del", false, "fd90::1/64", "-6", "addr", "del", "fd90::1/64", "dev", "eg0")
	sub.end()

	ch = make(chan netlink.AddrUpdate, 1000)
	sub2 := newSubscription("addr-list")
	defer sub2.end()
	if err := netlink.AddrSubscribeWithOptions(ch, sub2.done, netlink.AddrSubscribeOptions{ListExisting: true, ErrorCallback: sub2.callback}); err != nil {
		fail("addr-list-existing", "AddrSubscribeWithOptions(ListExisting): %v", err)
		return
	}
	if _, got := waitAddr(ch, "addr-list-existing", "the existing 10.90.0.1/24", func(u netlink.AddrUpdate) bool {
		return u.NewAddr && u.LinkAddress.String() == "10.90.0.1/24"
	}); got {
		ok("addr-list-existing")
	}
	if ip("addr-list-then-event", "addr", "add", "10.90.0.2/24", "dev", "eg0") == 0 {
		if _, got := waitAddr(ch, "addr-list-then-event", "address update 10.90.0.2/24", func(u netlink.AddrUpdate) bool {
			return u.NewAddr && u.LinkAddress.String() == "10.90.0.2/24"
		}); got {
			added["10.90.0.2/24"] = true
			ok("addr-list-then-event")
		}
	}
	check("addr4-del", false, "10.90.0.2/24", "addr", "del", "10.90.0.2/24", "dev", "eg0")
}

func routes() {
	ch := make(chan netlink.RouteUpdate, 1000)
	sub := newSubscription("route")
	if err := netlink.RouteSubscribeWithOptions(ch, sub.done, netlink.RouteSubscribeOptions{ErrorCallback: sub.callback}); err != nil {
		fail("route-subscribe", "RouteSubscribeWithOptions: %v", err)
		return
	}
	ok("route-subscribe")
	_, dst, _ := net.ParseCIDR("10.91.0.0/24")
	listed := func() bool {
		rs, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
		if err != nil {
			return false
		}
		for _, r := range rs {
			if r.Dst != nil && r.Dst.String() == dst.String() {
				return true
			}
		}
		return false
	}
	check := func(name string, typ uint16, args ...string) {
		if ip(name, args...) != 0 {
			return
		}
		if listed() != (typ == unix.RTM_NEWROUTE) {
			unsupported(name, "`ip %s` was accepted but the route list does not show it", strings.Join(args, " "))
			return
		}
		if _, got := waitRoute(ch, name, fmt.Sprintf("route update type %d for %s", typ, dst), func(u netlink.RouteUpdate) bool {
			return u.Type == typ && u.Dst != nil && u.Dst.String() == dst.String() && u.Table == unix.RT_TABLE_MAIN
		}); got {
			ok(name)
		}
	}
	check("route4-add", unix.RTM_NEWROUTE, "route", "add", "10.91.0.0/24", "via", "10.90.0.9", "dev", "eg0")
	sub.end()

	ch = make(chan netlink.RouteUpdate, 1000)
	sub2 := newSubscription("route-list")
	defer sub2.end()
	if err := netlink.RouteSubscribeWithOptions(ch, sub2.done, netlink.RouteSubscribeOptions{ListExisting: true, ErrorCallback: sub2.callback}); err != nil {
		fail("route-list-existing", "RouteSubscribeWithOptions(ListExisting): %v", err)
	} else if _, got := waitRoute(ch, "route-list-existing", "the existing route 10.91.0.0/24", func(u netlink.RouteUpdate) bool {
		return u.Type == unix.RTM_NEWROUTE && u.Dst != nil && u.Dst.String() == dst.String()
	}); got {
		ok("route-list-existing")
	}
	check("route4-del", unix.RTM_DELROUTE, "route", "del", "10.91.0.0/24")
}

func main() {
	freshNamespace()
	quietIP("link", "set", "lo", "up")
	links()
	addrs()
	routes()
	finish()
}
