package podnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Pod is a network namespace with its own loopback and an address on the network's
// bridge, as a CNI plugin gives a pod its IP.
type Pod struct {
	// Name is the name the pod was created with (the Kubernetes pod's name).
	Name string
	// IP is the pod's address, its status.podIP.
	IP net.IP
	// Link is the host end of the pod's veth pair, on the bridge.
	Link string

	n      *Network
	ns     int
	num    int  // host number of IP
	closed bool // guarded by n.mu
}

// NewPod creates a pod: a network namespace whose loopback is up and whose eth0, the
// other end of a veth pair on the bridge, has the next free address of the subnet. It
// has no route beyond the subnet.
func (n *Network) NewPod(name string) (_ *Pod, err error) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, errors.New("podnet: the network is closed")
	}
	// Addresses go round: one that is given again has been free the longest, and the
	// host's neighbour entry for it is gone (see close).
	num := 0
	for i := range 253 {
		if c := 2 + (n.last-1+i)%253; !n.used[c] {
			num = c
			break
		}
	}
	if num == 0 {
		n.mu.Unlock()
		return nil, fmt.Errorf("podnet: no address left in %s", n.Subnet.String())
	}
	n.used[num], n.last = true, num
	n.mu.Unlock()
	p := &Pod{Name: name, IP: hostAddr(n.Subnet, num), Link: linkName('p'), n: n, num: num}
	if p.ns, err = newNamespace(); err != nil {
		n.mu.Lock()
		delete(n.used, num)
		n.mu.Unlock()
		return nil, err
	}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: p.Link}, PeerName: "eth0", PeerNamespace: netlink.NsFd(p.ns)}
	if err := n.h.LinkAdd(veth); err != nil {
		return nil, linkError("add veth "+p.Link, err)
	}
	host, err := n.h.LinkByName(p.Link)
	if err != nil {
		return nil, fmt.Errorf("podnet: %s: %w", p.Link, err)
	}
	br, err := n.h.LinkByName(n.Bridge)
	if err != nil {
		return nil, fmt.Errorf("podnet: %s: %w", n.Bridge, err)
	}
	if err := n.h.LinkSetAlias(host, ownerAlias()+" pod="+name); err != nil {
		return nil, fmt.Errorf("podnet: alias of %s: %w", p.Link, err)
	}
	if err := n.h.LinkSetMaster(host, br); err != nil {
		return nil, fmt.Errorf("podnet: attach %s to %s: %w", p.Link, n.Bridge, err)
	}
	if err := n.h.LinkSetUp(host); err != nil {
		return nil, fmt.Errorf("podnet: set %s up: %w", p.Link, err)
	}
	if err := p.configure(); err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, errors.New("podnet: the network is closed")
	}
	n.pods[p] = true
	return p, nil
}

// configure brings the pod's loopback and eth0 up, with the pod's address on eth0.
func (p *Pod) configure() error {
	return inNamespace(p.ns, func() error {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE) // a socket of the pod's namespace
		if err != nil {
			return fmt.Errorf("podnet: netlink in pod %s: %w", p.Name, err)
		}
		defer h.Close()
		for _, name := range []string{"lo", "eth0"} {
			l, err := h.LinkByName(name)
			if err != nil {
				return fmt.Errorf("podnet: %s of pod %s: %w", name, p.Name, err)
			}
			if name == "eth0" {
				// /proc/sys/net is the reading thread's namespace's: no IPv6 chatter.
				_ = writeFile("/proc/sys/net/ipv6/conf/eth0/disable_ipv6", "1")
				if err := h.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: p.IP, Mask: p.n.Subnet.Mask}}); err != nil {
					return fmt.Errorf("podnet: address of pod %s: %w", p.Name, err)
				}
			}
			if err := h.LinkSetUp(l); err != nil {
				return fmt.Errorf("podnet: set %s of pod %s up: %w", name, p.Name, err)
			}
		}
		return nil
	})
}

// Do runs fn inside the pod's network namespace, on a thread of its own: the sockets fn
// creates (listeners, connections) and the processes it starts belong to the pod. What
// fn hands to other goroutines runs outside the pod. fn should not block for long: pods
// share the thread.
func (p *Pod) Do(fn func() error) error { return inNamespace(p.ns, fn) }

// Listen listens inside the pod, e.g. Listen("tcp", "127.0.0.1:8778") for an address
// that only the pod itself reaches.
func (p *Pod) Listen(network, address string) (net.Listener, error) {
	var ln net.Listener
	err := p.Do(func() (err error) {
		ln, err = net.Listen(network, address)
		return err
	})
	return ln, err
}

// DialContext connects from inside the pod, e.g. to the pod's own 127.0.0.1.
func (p *Pod) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var conn net.Conn
	err := p.Do(func() (err error) {
		conn, err = (&net.Dialer{}).DialContext(ctx, network, address)
		return err
	})
	return conn, err
}

// HTTPClient is an HTTP client whose connections are made from inside the pod.
func (p *Pod) HTTPClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil, DialContext: p.DialContext}}
}

// Start starts cmd inside the pod. Unless cmd says otherwise, the process gets SIGKILL
// when the test process dies.
func (p *Pod) Start(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	if cmd.SysProcAttr.Pdeathsig == 0 {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	return p.Do(cmd.Start)
}

// Close removes the pod's veth pair and lets its namespace go; the namespace ends when
// the last process started in it has ended, so stop them first.
func (p *Pod) Close() error {
	p.n.mu.Lock()
	if p.closed {
		p.n.mu.Unlock()
		return nil
	}
	p.closed = true
	delete(p.n.pods, p)
	p.n.mu.Unlock()
	err := p.close()
	p.n.mu.Lock()
	delete(p.n.used, p.num)
	p.n.mu.Unlock()
	return err
}

func (p *Pod) close() error {
	var err error
	if l, e := p.n.h.LinkByName(p.Link); e == nil {
		if e := p.n.h.LinkDel(l); e != nil {
			err = fmt.Errorf("podnet: delete %s: %w", p.Link, e)
		}
	}
	// The host's neighbour entry would send a later pod with this address frames for
	// this pod's MAC address until it is found stale.
	if br, e := p.n.h.LinkByName(p.n.Bridge); e == nil {
		p.n.h.NeighDel(&netlink.Neigh{LinkIndex: br.Attrs().Index, Family: netlink.FAMILY_V4, IP: p.IP})
	}
	if p.ns >= 0 {
		unix.Close(p.ns)
		p.ns = -1
	}
	return err
}

func writeFile(path, value string) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_, err = unix.Write(fd, []byte(value))
	return err
}
