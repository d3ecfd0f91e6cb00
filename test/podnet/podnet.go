// Package podnet gives test pods a network of their own, the way a CNI plugin does on a
// node. A Pod is a Linux network namespace with its own loopback and one veth pair to a
// bridge; its address comes from the test process's own /24 of 198.18.0.0/15 (a range
// reserved for benchmarks, routed nowhere). The bridge carries the host side's address
// (.1): kube-apiserver and the storage emulators listen there, and the test process,
// playing the operator, reaches a pod only by its address. Pods have no default route and
// the host gets no route beyond the /24: no packet goes anywhere but the bridge.
//
// Nothing outlives the test process. A pod's namespace is held only by a file
// descriptor and by the processes started in it, which get SIGKILL when the test process
// dies (PDEATHSIG); a veth pair vanishes with its namespace. The bridge is the one thing
// a killed process leaves behind: it is named after its owner (cbk<pid>b<n>, its alias
// naming the pid and the process's start time), and Open removes the links of owners
// that are gone before it picks a subnet that no other live test process uses.
//
// Creating namespaces needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN); without it Open
// returns an error that wraps ErrNotPermitted.
package podnet

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ErrNotPermitted is wrapped by the errors of Open and NewPod when this process may not
// create network namespaces or links (it is not root).
var ErrNotPermitted = errors.New("podnet: creating network namespaces is not permitted (needs root)")

// Range is the address range every pod network takes its /24 from (RFC 2544).
var Range = net.IPNet{IP: net.IPv4(198, 18, 0, 0).To4(), Mask: net.CIDRMask(15, 32)}

const (
	// LinkPrefix starts the name of every link this package creates: cbk<pid>b<n> for a
	// network's bridge, cbk<pid>p<n> for the host end of a pod's veth pair.
	LinkPrefix = "cbk"
	// aliasPrefix starts a link's alias, followed by the owner's pid and start time.
	aliasPrefix = "cassandra-backup-podnet"
	// lockPath serializes the choice of subnets between test processes.
	lockPath = "/tmp/cassandra-backup-podnet.lock"
)

// Network is one test process's pod network: a bridge with the host side's address and
// the pods attached to it.
type Network struct {
	// Subnet is the network's /24.
	Subnet net.IPNet
	// Host is the host side's address (the bridge's, .1 of Subnet).
	Host net.IP
	// Bridge is the bridge's link name.
	Bridge string

	h      *netlink.Handle
	mu     sync.Mutex
	used   map[int]bool // host numbers of the pods' addresses
	last   int          // the host number given last
	pods   map[*Pod]bool
	closed bool
}

// Open removes the links left by test processes that are gone, then creates this
// process's bridge on a /24 of Range that no other link uses. Close removes it.
func Open() (_ *Network, err error) {
	// The namespace thread tells first whether namespaces may be created at all.
	probe, err := newNamespace()
	if err != nil {
		return nil, err
	}
	unix.Close(probe)
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("podnet: netlink: %w", err)
	}
	defer func() {
		if err != nil {
			h.Close()
		}
	}()
	unlock, err := lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := removeLeftovers(h); err != nil {
		return nil, err
	}
	subnet, err := freeSubnet(h)
	if err != nil {
		return nil, err
	}
	n := &Network{Subnet: subnet, Host: hostAddr(subnet, 1), Bridge: linkName('b'), h: h, used: map[int]bool{}, last: 1, pods: map[*Pod]bool{}}
	// A bridge without an address of its own takes the smallest of its ports', and
	// changes it as pods come and go: the host's neighbour entries are flushed then,
	// and a connection being set up to a pod fails with "no route to host".
	mac := make(net.HardwareAddr, 6)
	rand.Read(mac)
	mac[0] = 0x02 // locally administered, unicast
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.Bridge, HardwareAddr: mac}}
	if err := h.LinkAdd(br); err != nil {
		return nil, linkError("add bridge "+n.Bridge, err)
	}
	defer func() {
		if err != nil {
			h.LinkDel(br)
		}
	}()
	if err := h.LinkSetAlias(br, ownerAlias()); err != nil {
		return nil, fmt.Errorf("podnet: alias of %s: %w", n.Bridge, err)
	}
	// No IPv6 on the bridge: no router solicitations, no link-local chatter.
	os.WriteFile("/proc/sys/net/ipv6/conf/"+n.Bridge+"/disable_ipv6", []byte("1"), 0)
	if err := h.AddrAdd(br, &netlink.Addr{IPNet: &net.IPNet{IP: n.Host, Mask: subnet.Mask}}); err != nil {
		return nil, fmt.Errorf("podnet: address of %s: %w", n.Bridge, err)
	}
	if err := h.LinkSetUp(br); err != nil {
		return nil, fmt.Errorf("podnet: set %s up: %w", n.Bridge, err)
	}
	return n, nil
}

// Close removes every pod of the network (see Pod.Close) and the bridge.
func (n *Network) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	pods := n.pods
	n.pods = nil
	n.mu.Unlock()
	var errs []error
	for p := range pods {
		errs = append(errs, p.Close())
	}
	if l, err := n.h.LinkByName(n.Bridge); err == nil {
		if err := n.h.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("podnet: delete %s: %w", n.Bridge, err))
		}
	}
	n.h.Close()
	return errors.Join(errs...)
}

// links numbers the links of this process.
var links atomic.Int32

// linkName is a new name for a link of this process: cbk<pid>b<n> for a bridge,
// cbk<pid>p<n> for a veth (at most 3+7+1+4 = 15 characters, Linux's limit).
func linkName(kind byte) string {
	return LinkPrefix + strconv.Itoa(os.Getpid()) + string(kind) + strconv.Itoa(int(links.Add(1)%10000))
}

// ownerAlias is the alias of this process's links: its pid and start time, so that a
// later process with the same pid is not taken for the owner.
func ownerAlias() string {
	return fmt.Sprintf("%s pid=%d start=%s", aliasPrefix, os.Getpid(), startTime(os.Getpid()))
}

// startTime is a process's start time in clock ticks since boot (field 22 of
// /proc/<pid>/stat), or "" when there is no such process.
func startTime(pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 20 {
		return ""
	}
	return fields[19]
}

// ownerPid returns the pid in a link name of this package, or false.
func ownerPid(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, LinkPrefix)
	if !ok {
		return 0, false
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	if i == 0 || i == len(rest) || (rest[i] != 'b' && rest[i] != 'p') || len(rest) == i+1 {
		return 0, false
	}
	for _, c := range rest[i+1:] {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	pid, err := strconv.Atoi(rest[:i])
	return pid, err == nil
}

// ownerAlive tells whether the process that created a link still runs.
func ownerAlive(l netlink.Link) bool {
	pid, ok := ownerPid(l.Attrs().Name)
	if !ok {
		return true // not ours
	}
	start, marked := aliasStart(l.Attrs().Alias, pid)
	if !marked {
		// Not (yet) marked: the owner is between creating and marking it, or died
		// there. A live pid decides.
		return startTime(pid) != ""
	}
	return start == startTime(pid)
}

// aliasStart returns the owner's start time from a link's alias
// ("cassandra-backup-podnet pid=<pid> start=<ticks>[ pod=<name>]"), and whether the alias
// names pid as the owner.
func aliasStart(alias string, pid int) (string, bool) {
	f := strings.Fields(alias)
	if len(f) < 3 || f[0] != aliasPrefix || f[1] != "pid="+strconv.Itoa(pid) || !strings.HasPrefix(f[2], "start=") {
		return "", false
	}
	return strings.TrimPrefix(f[2], "start="), true
}

// removeLeftovers deletes the links of this package whose owner is gone, and returns
// their names.
func removeLeftovers(h *netlink.Handle) ([]string, error) {
	links, err := h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("podnet: list links: %w", err)
	}
	var removed []string
	for _, l := range links {
		if _, ours := ownerPid(l.Attrs().Name); !ours || ownerAlive(l) {
			continue
		}
		if err := h.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
			return removed, fmt.Errorf("podnet: remove %s, left by a test process that is gone: %w", l.Attrs().Name, err)
		}
		removed = append(removed, l.Attrs().Name)
	}
	return removed, nil
}

// RemoveLeftovers deletes the links left by test processes that are gone, as Open does,
// and returns their names.
func RemoveLeftovers() ([]string, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("podnet: netlink: %w", err)
	}
	defer h.Close()
	unlock, err := lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return removeLeftovers(h)
}

// freeSubnet returns a /24 of Range that no address of this namespace's links is in,
// trying this process's own slot (pid modulo 512) first.
func freeSubnet(h *netlink.Handle) (net.IPNet, error) {
	addrs, err := h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return net.IPNet{}, fmt.Errorf("podnet: list addresses: %w", err)
	}
	used := map[int]bool{}
	for _, a := range addrs {
		if ip := a.IP.To4(); ip != nil && Range.Contains(ip) {
			used[int(ip[1]-198)*256+int(ip[2])] = true
		}
	}
	const slots = 512
	start := os.Getpid() % slots
	for i := range slots {
		s := (start + i) % slots
		if !used[s] {
			return net.IPNet{IP: net.IPv4(198, byte(18+s/256), byte(s%256), 0).To4(), Mask: net.CIDRMask(24, 32)}, nil
		}
	}
	return net.IPNet{}, errors.New("podnet: every /24 of 198.18.0.0/15 is in use")
}

func hostAddr(subnet net.IPNet, n int) net.IP {
	ip := append(net.IP(nil), subnet.IP.To4()...)
	ip[3] = byte(n)
	return ip
}

// lock takes the lock file that serializes subnet choices between test processes.
func lock() (func(), error) {
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("podnet: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("podnet: lock %s: %w", lockPath, err)
	}
	return func() { f.Close() }, nil
}

// linkError wraps EPERM in ErrNotPermitted.
func linkError(what string, err error) error {
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("%w: %s: %v", ErrNotPermitted, what, err)
	}
	return fmt.Errorf("podnet: %s: %w", what, err)
}
