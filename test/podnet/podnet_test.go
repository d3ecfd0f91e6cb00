package podnet

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra/jolokia"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// childEnv makes the test binary a child test process (see child) instead of running tests.
const childEnv = "PODNET_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// open opens a network for one test; the test fails, never skips, without root.
func open(t *testing.T) *Network {
	t.Helper()
	n, err := Open()
	if err != nil {
		t.Fatalf("the pod network tests need root: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	return n
}

func newPod(t *testing.T, n *Network, name string) *Pod {
	t.Helper()
	p, err := n.NewPod(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPodAddressAndHost: a pod has its own address in the network's subnet, only the
// subnet's route, and reaches the host side's address; the host side sees the pod's
// address as the peer.
func TestPodAddressAndHost(t *testing.T) {
	n := open(t)
	if !Range.Contains(n.Subnet.IP) || n.Host.String() != hostAddr(n.Subnet, 1).String() {
		t.Fatalf("subnet %s host %s", n.Subnet.String(), n.Host)
	}
	p1, p2 := newPod(t, n, "pod-a"), newPod(t, n, "pod-b")
	if !n.Subnet.Contains(p1.IP) || !n.Subnet.Contains(p2.IP) || p1.IP.Equal(p2.IP) || p1.IP.Equal(n.Host) {
		t.Fatalf("pod addresses %s and %s in %s (host %s)", p1.IP, p2.IP, n.Subnet.String(), n.Host)
	}
	if len(p1.Link) > 15 || !strings.HasPrefix(p1.Link, fmt.Sprintf("%s%dp", LinkPrefix, os.Getpid())) {
		t.Errorf("link name %q", p1.Link)
	}

	// Inside the pod: lo and eth0 only, eth0 with the pod's address, no default route.
	err := p1.Do(func() error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		var names []string
		for _, l := range links {
			names = append(names, l.Attrs().Name)
		}
		if strings.Join(names, ",") != "lo,eth0" {
			return fmt.Errorf("links in the pod: %v", names)
		}
		routes, err := netlink.RouteList(nil, netlink.FAMILY_ALL)
		if err != nil {
			return err
		}
		for _, r := range routes {
			if r.Dst == nil || r.Dst.String() != n.Subnet.String() {
				return fmt.Errorf("a route beyond the subnet in the pod: %s", r.String())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The host side listens on its address; the pod connects and is seen by its own.
	ln, err := net.Listen("tcp", net.JoinHostPort(n.Host.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			peer <- err.Error()
			return
		}
		peer <- c.RemoteAddr().(*net.TCPAddr).IP.String()
		c.Close()
	}()
	c, err := p1.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("pod %s cannot reach the host side %s: %v", p1.IP, ln.Addr(), err)
	}
	c.Close()
	if got := <-peer; got != p1.IP.String() {
		t.Errorf("the host side saw %s, want the pod's address %s", got, p1.IP)
	}

	// The host side reaches a pod by its address; 127.0.0.1 in a pod is the pod's own.
	pl, err := p2.Listen("tcp", ":4567")
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	go func() {
		for {
			c, err := pl.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(p2.IP.String(), "4567"), 5*time.Second); err != nil {
		t.Errorf("the host side cannot reach pod %s: %v", p2.IP, err)
	} else {
		c.Close()
	}
	if c, err := p1.DialContext(context.Background(), "tcp", "127.0.0.1:4567"); err == nil {
		c.Close()
		t.Errorf("pod-a reached pod-b's port on its own 127.0.0.1")
	}
}

// TestJolokiaOnlyInsidePod: a fake node started in a pod listens on the pod's 127.0.0.1:
// the host side gets "connection refused" at the pod's address, a client inside the pod
// gets answers, and a process started in the pod is in the pod's namespace.
func TestJolokiaOnlyInsidePod(t *testing.T) {
	n := open(t)
	p := newPod(t, n, "cassandra-0")
	var node *fakecassandra.Node
	err := p.Do(func() (err error) {
		node, err = fakecassandra.Start(fakecassandra.Config{DataDirs: []string{t.TempDir()}, Listen: "127.0.0.1:8778", Seed: 7})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()

	_, err = net.DialTimeout("tcp", net.JoinHostPort(p.IP.String(), "8778"), 5*time.Second)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Jolokia at %s:8778 from the host side: %v, want connection refused", p.IP, err)
	}
	inside := &jolokia.Client{URL: "http://127.0.0.1:8778/jolokia/", Client: p.HTTPClient()}
	id, err := inside.HostID(context.Background())
	if err != nil || id != node.HostID() {
		t.Errorf("Jolokia from inside the pod: host id %q, %v; want %s", id, err, node.HostID())
	}

	cmd := exec.Command("sleep", "60")
	if err := p.Start(cmd); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid))
	if want := fmt.Sprintf("net:[%d]", p.inode()); err != nil || link != want {
		t.Errorf("process started in the pod is in %s (%v), want %s", link, err, want)
	}
}

// TestTeardown: closing the network removes its links and, once the processes in them
// have ended, its namespaces.
func TestTeardown(t *testing.T) {
	n, err := Open()
	if err != nil {
		t.Fatalf("the pod network tests need root: %v", err)
	}
	var inodes []uint64
	var cmds []*exec.Cmd
	for i := range 3 {
		p := newPod(t, n, fmt.Sprintf("pod-%d", i))
		inodes = append(inodes, p.inode())
		cmd := exec.Command("sleep", "60")
		if err := p.Start(cmd); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	if got := ownLinks(t, os.Getpid()); len(got) != 4 {
		t.Fatalf("links while running: %v, want a bridge and 3 veths", got)
	}
	for _, c := range cmds {
		c.Process.Kill()
		c.Wait()
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if got := ownLinks(t, os.Getpid()); len(got) != 0 {
		t.Errorf("links after Close: %v", got)
	}
	waitNamespacesGone(t, inodes)
}

// childInfo is what a child test process reports once its pods run.
type childInfo struct {
	Pid     int
	Subnet  string
	Bridge  string
	Inodes  []uint64
	Sleeper int
}

// child opens a network with two pods and a process in each, prints childInfo, waits
// for its standard input to end, and closes the network.
func child() int {
	fail := func(err error) int { fmt.Println("error:", err); return 1 }
	n, err := Open()
	if err != nil {
		return fail(err)
	}
	info := childInfo{Pid: os.Getpid(), Subnet: n.Subnet.String(), Bridge: n.Bridge}
	var cmds []*exec.Cmd
	for i := range 2 {
		p, err := n.NewPod(fmt.Sprintf("child-%d", i))
		if err != nil {
			return fail(err)
		}
		info.Inodes = append(info.Inodes, p.inode())
		cmd := exec.Command("sleep", "600")
		if err := p.Start(cmd); err != nil {
			return fail(err)
		}
		cmds = append(cmds, cmd)
		info.Sleeper = cmd.Process.Pid
	}
	b, _ := json.Marshal(info)
	fmt.Println(string(b))
	io.Copy(io.Discard, os.Stdin)
	for _, c := range cmds {
		c.Process.Kill()
		c.Wait()
	}
	if err := n.Close(); err != nil {
		return fail(err)
	}
	return 0
}

// startChild runs this test binary as a child test process with a pod network.
func startChild(t *testing.T) (*exec.Cmd, io.WriteCloser, childInfo) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	var info childInfo
	if err != nil || json.Unmarshal([]byte(line), &info) != nil {
		t.Fatalf("child test process: %q, %v", line, err)
	}
	return cmd, stdin, info
}

// TestParallelProcessesGetOwnSubnets: test processes running at the same time get
// different subnets and bridges.
func TestParallelProcessesGetOwnSubnets(t *testing.T) {
	n := open(t)
	p := newPod(t, n, "parent")
	c1, in1, a := startChild(t)
	c2, in2, b := startChild(t)
	if a.Subnet == b.Subnet || a.Subnet == n.Subnet.String() || b.Subnet == n.Subnet.String() || a.Bridge == b.Bridge {
		t.Errorf("subnets %s (%s), %s (%s) and this process's %s", a.Subnet, a.Bridge, b.Subnet, b.Bridge, n.Subnet.String())
	}
	// Each one's start left the others' links alone.
	if got := ownLinks(t, a.Pid); len(got) != 3 {
		t.Errorf("links of the first child once the second started: %v, want a bridge and 2 veths", got)
	}
	if got := ownLinks(t, os.Getpid()); len(got) != 2 {
		t.Errorf("this process's links once the children started: %v, want its bridge and %s", got, p.Link)
	}
	in1.Close()
	in2.Close()
	if err := c1.Wait(); err != nil {
		t.Errorf("child 1: %v", err)
	}
	if err := c2.Wait(); err != nil {
		t.Errorf("child 2: %v", err)
	}
	for _, c := range []childInfo{a, b} {
		if got := ownLinks(t, c.Pid); len(got) != 0 {
			t.Errorf("links of child %d after it closed its network: %v", c.Pid, got)
		}
		waitNamespacesGone(t, c.Inodes)
	}
}

// TestKilledProcessLeavesNothing: a test process killed with SIGKILL takes its pods'
// processes and namespaces with it; its bridge is removed by the next Open.
func TestKilledProcessLeavesNothing(t *testing.T) {
	cmd, _, info := startChild(t)
	if got := ownLinks(t, info.Pid); len(got) != 3 {
		t.Fatalf("links of the child: %v, want a bridge and 2 veths", got)
	}
	cmd.Process.Kill()
	cmd.Wait()
	waitNamespacesGone(t, info.Inodes)
	// The pods' processes died with it (PDEATHSIG): nothing holds the namespaces, the
	// veth pairs went with them, only the bridge is left.
	if err := syscall.Kill(info.Sleeper, 0); err == nil && startTime(info.Sleeper) != "" && !zombie(info.Sleeper) {
		t.Errorf("process %d started in the killed child's pod still runs", info.Sleeper)
	}
	// The kernel frees namespaces, and their veths, asynchronously.
	deadline := time.Now().Add(10 * time.Second)
	for got := ownLinks(t, info.Pid); len(got) != 1 || got[0] != info.Bridge; got = ownLinks(t, info.Pid) {
		if time.Now().After(deadline) {
			t.Fatalf("links left by the killed child: %v, want its bridge %s only", got, info.Bridge)
		}
		time.Sleep(50 * time.Millisecond)
	}
	n := open(t)
	if got := ownLinks(t, info.Pid); len(got) != 0 {
		t.Errorf("links of the killed child after the next Open: %v", got)
	}
	if n.Bridge == info.Bridge {
		t.Errorf("bridge name reused: %s", n.Bridge)
	}
	if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err == nil && strings.TrimSpace(string(out)) != "" {
		t.Errorf("named namespaces exist: %s", out)
	}
}

func TestAliases(t *testing.T) {
	for alias, want := range map[string]string{
		"cassandra-backup-podnet pid=12 start=345":            "345",
		"cassandra-backup-podnet pid=12 start=345 pod=cass-0": "345",
		"cassandra-backup-podnet pid=123 start=345":           "",
		"something else pid=12 start=345":                     "",
		"":                                                    "",
	} {
		start, ok := aliasStart(alias, 12)
		if start != want || ok != (want != "") {
			t.Errorf("aliasStart(%q, 12) = %q, %v", alias, start, ok)
		}
	}
}

func TestLinkNames(t *testing.T) {
	for name, want := range map[string]int{"cbk123b1": 123, "cbk4194304p9999": 4194304, "cbk123b": 0, "cbk12": 0, "cbkb1": 0, "cbk12x1": 0, "cbk1p1x": 0, "eth0": 0} {
		pid, ok := ownerPid(name)
		if ok != (want != 0) || pid != want {
			t.Errorf("ownerPid(%q) = %d, %v", name, pid, ok)
		}
	}
	if l := len(LinkPrefix + "4194304p9999"); l > 15 {
		t.Errorf("longest link name has %d characters", l)
	}
}

// ownLinks lists the links of this package owned by pid.
func ownLinks(t *testing.T, pid int) []string {
	t.Helper()
	// A dump the kernel interrupts (links changed meanwhile, as other suites' pods come
	// and go) reports ErrDumpInterrupted: list again.
	links, err := netlink.LinkList()
	for i := 0; errors.Is(err, netlink.ErrDumpInterrupted) && i < 20; i++ {
		time.Sleep(10 * time.Millisecond)
		links, err = netlink.LinkList()
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		if p, ok := ownerPid(l.Attrs().Name); ok && p == pid {
			names = append(names, l.Attrs().Name)
		}
	}
	return names
}

// waitNamespacesGone waits until no process, thread or open file refers to any of the
// network namespaces (the kernel frees a namespace when the last reference goes).
func waitNamespacesGone(t *testing.T, inodes []uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		held := namespacesHeld(inodes)
		if len(held) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespaces still held: %v", held)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// namespacesHeld returns the references to the namespaces found under /proc.
func namespacesHeld(inodes []uint64) []string {
	want := map[string]bool{}
	for _, ino := range inodes {
		want[fmt.Sprintf("net:[%d]", ino)] = true
	}
	var held []string
	for _, pattern := range []string{"/proc/[0-9]*/task/[0-9]*/ns/net", "/proc/[0-9]*/fd/*"} {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			if l, err := os.Readlink(p); err == nil && want[l] {
				held = append(held, p+" -> "+l)
			}
		}
	}
	return held
}

func zombie(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] == "Z"
}

func (p *Pod) inode() uint64 {
	var st unix.Stat_t
	if err := unix.Fstat(p.ns, &st); err != nil {
		return 0
	}
	return st.Ino
}

// TestAddressGivenAgain: a pod that gets the address of a closed pod is reachable at
// once (the host forgot the closed pod's MAC address), and addresses go round.
func TestAddressGivenAgain(t *testing.T) {
	n := open(t)
	reach := func(p *Pod) error {
		ln, err := p.Listen("tcp", ":4567")
		if err != nil {
			return err
		}
		defer ln.Close()
		c, err := net.DialTimeout("tcp", net.JoinHostPort(p.IP.String(), "4567"), 5*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
	bridgeMAC := func() string {
		br, err := netlink.LinkByName(n.Bridge)
		if err != nil {
			t.Fatal(err)
		}
		return br.Attrs().HardwareAddr.String()
	}
	mac := bridgeMAC()
	a := newPod(t, n, "a")
	if err := reach(a); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b := newPod(t, n, "b")
	if b.IP.Equal(a.IP) {
		t.Errorf("address %s given again at once", a.IP)
	}
	b.Close()
	n.mu.Lock()
	n.last = 1 // as after a round of 253 pods
	n.mu.Unlock()
	c := newPod(t, n, "c")
	if !c.IP.Equal(a.IP) {
		t.Fatalf("pod c has %s, want %s", c.IP, a.IP)
	}
	if err := reach(c); err != nil {
		t.Errorf("pod c at the closed pod a's address: %v", err)
	}
	// The bridge keeps its own MAC address as pods come and go (were it to take its
	// ports', the host's neighbour entries would be flushed with every change).
	if now := bridgeMAC(); now != mac {
		t.Errorf("the bridge's MAC address changed from %s to %s", mac, now)
	}
}
