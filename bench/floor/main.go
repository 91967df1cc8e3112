// Command floor builds, checks and tears down the star lab of
// bench/star.star with plain netlink calls and nothing else: the floor
// that make bench measures nsplay against. It makes each step nsplay makes,
// one request each, in the same order (each veth made with its end already
// in the host's namespace, so nothing moves), and no more: no journal, no
// checks of ownership, no reads between steps. The steps include nsplay's
// scale settings (docs/scale.md), so that both build the same lab: the
// IPv6 sysctls in each namespace, no link-local address on the bridge's
// ports, the table of family bridge that drops the hosts' MLD reports as
// they come in on those ports, and permanent neighbour entries with fixed
// MACs between the bridge and each host.
//
//	floor -hosts N
//
// It makes namespaces and bridges where it runs: run it only inside a
// private network and mount namespace with a private /run (make bench
// does). It prints "bench: check" once the lab is built, "bench: failures
// F" and "bench: down" once every host has sent one echo to its bridge
// (F did not get an answer within 2 s), and ends once the lab is gone.
package main

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// perBridge hosts share a bridge (a bridge takes at most 1023 ports), as in
// bench/star.star.
const perBridge = 1000

// echoWorkers is how many echoes are in flight at once, as in nsplay's
// expect.all_reachable.
const echoWorkers = 256

// host is one namespace of the star and its netlink handle.
type host struct {
	name string
	ns   netns.NsHandle
	nl   *netlink.Handle
	gw   net.IP
}

func main() {
	n := flag.Int("hosts", 10, "the number of hosts")
	flag.Parse()
	if err := run(*n); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(n int) error {
	// NewNamed moves the calling thread into the namespace it makes: the
	// main goroutine keeps its thread and goes back each time.
	runtime.LockOSThread()
	origin, err := netns.Get()
	if err != nil {
		return err
	}
	nft, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return err
	}
	defer nft.CloseLasting()
	hosts, bridges, err := build(origin, nft, n)
	if err != nil {
		return err
	}
	fmt.Println("bench: check")
	fmt.Printf("bench: failures %d\n", check(origin, hosts))
	fmt.Println("bench: down")
	return teardown(nft, hosts, bridges)
}

// quietTable is the floor's table of family bridge, as nsplay's
// model.MLDQuiet makes it in lab star: it drops the MLD reports for
// solicited-node groups that come in on the ports in its set.
var quietTable = &nftables.Table{Name: model.LabTable("star"), Family: nftables.TableFamilyBridge}

// build makes the star: a bridge per perBridge hosts with 10.(77+k).0.1/16,
// and per host a namespace with lo up, eth0 (its peer a port of the
// bridge, up) with an address, up, and a default route.
func build(origin netns.NsHandle, nft *nftables.Conn, n int) ([]host, []netlink.Link, error) {
	err := kernel.AddMLDQuiet(nft, quietTable)
	if err == nil {
		err = nft.Flush()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("table bridge %s: %w", quietTable.Name, err)
	}
	var bridges []netlink.Link
	hosts := make([]host, 0, n)
	for i := range n {
		k, j := i/perBridge, i%perBridge
		gw := net.IPv4(10, byte(77+k), 0, 1)
		if j == 0 {
			br := &netlink.Bridge{LinkAttrs: netlink.NewLinkAttrs()}
			br.Name, br.HardwareAddr = fmt.Sprintf("star%d", k), mac(0, k)
			if err := netlink.LinkAdd(br); err != nil {
				return nil, nil, fmt.Errorf("bridge %s: %w", br.Name, err)
			}
			if err := netlink.AddrAdd(br, &netlink.Addr{IPNet: &net.IPNet{IP: gw, Mask: net.CIDRMask(16, 32)}}); err != nil {
				return nil, nil, err
			}
			if err := netlink.LinkSetUp(br); err != nil {
				return nil, nil, err
			}
			bridges = append(bridges, br)
		}
		h, err := newHost(origin, fmt.Sprintf("star-h%d", i), gw)
		if err != nil {
			return nil, nil, err
		}
		hosts = append(hosts, h)
		if err := h.nl.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: "lo"}}); err != nil {
			return nil, nil, err
		}
		// The kernel's transmit queue length on both ends, as nsplay leaves it.
		outer := netlink.NewVeth(netlink.NewLinkAttrs())
		outer.Name, outer.PeerName, outer.PeerNamespace = h.name, "eth0", netlink.NsFd(h.ns)
		if err := netlink.LinkAdd(outer); err != nil {
			return nil, nil, fmt.Errorf("veth of %s: %w", h.name, err)
		}
		eth0 := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}}
		ip := net.IPv4(10, byte(77+k), byte((j+2)/256), byte((j+2)%256))
		if err := h.nl.AddrAdd(eth0, &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(16, 32)}}); err != nil {
			return nil, nil, err
		}
		if err := h.nl.LinkSetUp(eth0); err != nil {
			return nil, nil, err
		}
		if err := netlink.LinkSetMaster(outer, bridges[k].(*netlink.Bridge)); err != nil {
			return nil, nil, err
		}
		if err := netlink.LinkSetIP6AddrGenMode(outer, nl.IN6_ADDR_GEN_MODE_NONE); err != nil {
			return nil, nil, err
		}
		if err := kernel.AddMLDQuietPort(nft, quietTable, h.name); err != nil {
			return nil, nil, err
		}
		if err := nft.Flush(); err != nil {
			return nil, nil, fmt.Errorf("quiet MLD on %s: %w", h.name, err)
		}
		if err := neighbours(h, bridges[k], eth0, ip, i); err != nil {
			return nil, nil, err
		}
		if err := netlink.LinkSetUp(outer); err != nil {
			return nil, nil, err
		}
		if err := h.nl.RouteAdd(&netlink.Route{Gw: gw}); err != nil {
			return nil, nil, fmt.Errorf("default route of %s: %w", h.name, err)
		}
	}
	return hosts, bridges, nil
}

// newHost makes the named namespace (under /run/netns, as ip netns add
// does) and a netlink handle inside it, and brings the thread back.
func newHost(origin netns.NsHandle, name string, gw net.IP) (host, error) {
	ns, err := netns.NewNamed(name)
	if err != nil {
		return host{}, fmt.Errorf("namespace %s: %w", name, err)
	}
	nl, err := netlink.NewHandle(unix.NETLINK_ROUTE) // one socket: 5000 hosts in 20000 files
	if err == nil {
		err = quietIPv6()
	}
	if back := netns.Set(origin); back != nil {
		return host{}, errors.Join(err, back)
	}
	if err != nil {
		return host{}, err
	}
	return host{name: name, ns: ns, nl: nl, gw: gw}, nil
}

// quietIPv6 writes nsplay's IPv6 settings in the namespace the thread is
// in: no duplicate address detection, no router solicitations, MLDv1. As
// nsplay does, it writes them through a procfs instance of its own,
// detached from every mount (the bench's /proc/sys is read-only, and a
// lookup through the machine's /proc walks a list as long as the
// namespaces are many).
func quietIPv6() error {
	fs, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(fs)
	if err := unix.FsconfigCreate(fs); err != nil {
		return err
	}
	proc, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(proc)
	for _, s := range [][2]string{
		{"ipv6/conf/default/dad_transmits", "0"},
		{"ipv6/conf/default/router_solicitations", "0"},
		{"ipv6/conf/all/force_mld_version", "1"},
	} {
		fd, err := unix.Openat(proc, "sys/net/"+s[0], unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", s[0], err)
		}
		_, err = unix.Write(fd, []byte(s[1]))
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("write %s: %w", s[0], err)
		}
	}
	return nil
}

// neighbours gives host i's eth0 a fixed MAC, and makes the permanent
// neighbour entries between the bridge and eth0, as nsplay's
// static_neighbours does.
func neighbours(h host, br netlink.Link, eth0 netlink.Link, ip net.IP, i int) error {
	hostMAC := mac(1, i)
	if err := h.nl.LinkSetHardwareAddr(eth0, hostMAC); err != nil {
		return err
	}
	inHost, err := h.nl.LinkByName("eth0")
	if err != nil {
		return err
	}
	if err := netlink.NeighSet(&netlink.Neigh{LinkIndex: br.Attrs().Index, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT, IP: ip, HardwareAddr: hostMAC}); err != nil {
		return err
	}
	return h.nl.NeighSet(&netlink.Neigh{LinkIndex: inHost.Attrs().Index, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT, IP: h.gw, HardwareAddr: br.Attrs().HardwareAddr})
}

// mac is a locally administered unicast MAC, the i-th of a kind.
func mac(kind byte, i int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x6e, kind, byte(i >> 16), byte(i >> 8), byte(i)}
}

// check sends one echo from each host to its bridge, echoWorkers at a
// time, and counts those not answered within 2 s.
func check(origin netns.NsHandle, hosts []host) int {
	var mu sync.Mutex
	var wg sync.WaitGroup
	failures := 0
	next := make(chan host)
	for range echoWorkers {
		wg.Go(func() {
			for h := range next {
				if !echo(origin, h) {
					mu.Lock()
					failures++
					mu.Unlock()
				}
			}
		})
	}
	for _, h := range hosts {
		next <- h
	}
	close(next)
	wg.Wait()
	return failures
}

// echo opens a raw ICMP socket inside h's namespace (on a thread of its
// own, which is discarded if it cannot go back), sends one echo request to
// h's gateway and waits 2 s for the reply.
func echo(origin netns.NsHandle, h host) bool {
	conn := make(chan *icmp.PacketConn, 1)
	go func() {
		runtime.LockOSThread()
		if netns.Set(h.ns) != nil {
			conn <- nil
			return
		}
		c, _ := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		conn <- c
		if netns.Set(origin) == nil {
			runtime.UnlockOSThread()
		}
	}()
	c := <-conn
	if c == nil {
		return false
	}
	defer c.Close()
	id := rand.IntN(0x10000)
	msg, _ := (&icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: 1, Data: []byte("floor")}}).Marshal(nil)
	if _, err := c.WriteTo(msg, &net.IPAddr{IP: h.gw}); err != nil {
		return false
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return false
		}
		m, err := icmp.ParseMessage(1, buf[:n])
		if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && from.(*net.IPAddr).IP.Equal(h.gw) {
			return true
		}
	}
}

// teardown deletes the namespaces, which takes their veths along, the
// bridges and the table.
func teardown(nft *nftables.Conn, hosts []host, bridges []netlink.Link) error {
	var errs []error
	for _, h := range hosts {
		h.nl.Close()
		h.ns.Close()
		errs = append(errs, netns.DeleteNamed(h.name))
	}
	for _, br := range bridges {
		errs = append(errs, netlink.LinkDel(br))
	}
	nft.DelTable(quietTable)
	errs = append(errs, nft.Flush())
	return errors.Join(errs...)
}
