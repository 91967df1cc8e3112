package kernel_test

import (
	"errors"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
	"golang.org/x/sys/unix"
)

// TestScaleSettingsInTheKernel checks what the scale settings ask of the
// kernel, as ip shows it: the IPv6 sysctls of a namespace, a link's MAC,
// no link-local address on a link set so before it is up, and permanent
// neighbour entries made, replaced and listed.
func TestScaleSettingsInTheKernel(t *testing.T) {
	testenv.RequireRoot(t)
	p := newPair(t)
	must(t, p.A.SetSysctlsOfEach(model.QuietIPv6Settings))
	for _, s := range model.QuietIPv6Settings {
		if v, err := p.A.Sysctl(s.Key); err != nil || v != s.Value {
			t.Errorf("%s in %s = %q, %v; want %q", s.Key, p.A, v, err, s.Value)
		}
	}

	mac := model.StableMAC("lab", model.Link(model.Named(p.A.Name), p.va))
	must(t, p.A.SetMAC(p.va, mac))
	if got := ipLink(t, p.A, p.va).Address; got != mac {
		t.Errorf("ip shows %s with MAC %s, want %s", p.va, got, mac)
	}
	must(t, p.B.SetAddrGenMode(p.vb, "none"))
	must(t, p.A.SetUp(p.va))
	must(t, p.B.SetUp(p.vb))
	waitOperUp(t, p.B, p.vb)
	if out := testenv.IP(t, "-n", p.B.Name, "-6", "addr", "show", "dev", p.vb, "scope", "link"); strings.Contains(out, "fe80") {
		t.Errorf("%s got a link-local address despite addrgenmode none:\n%s", p.vb, out)
	}

	must(t, p.A.SetNeigh(p.va, "10.0.0.2", "02:00:00:00:00:01"))
	must(t, p.A.SetNeigh(p.va, "10.0.0.2", "02:00:00:00:00:02")) // replaced, not refused
	must(t, p.A.SetNeigh(p.va, "fd00::2", "02:00:00:00:00:02"))
	got, err := p.A.Neighbours()
	must(t, err)
	want := []model.NeighInfo{{IP: "10.0.0.2", MAC: "02:00:00:00:00:02", Dev: p.va}, {IP: "fd00::2", MAC: "02:00:00:00:00:02", Dev: p.va}}
	if !slices.Equal(got, want) {
		t.Errorf("Neighbours = %v, want %v", got, want)
	}
	if out := testenv.IP(t, "-n", p.A.Name, "neigh", "show", "nud", "permanent"); !strings.Contains(out, "10.0.0.2 dev "+p.va+" lladdr 02:00:00:00:00:02 PERMANENT") {
		t.Errorf("ip neigh show nud permanent:\n%s", out)
	}
	must(t, p.A.DelNeigh(p.va, "10.0.0.2"))
	got, err = p.A.Neighbours()
	if want := want[1:]; err != nil || !slices.Equal(got, want) {
		t.Errorf("Neighbours after DelNeigh(10.0.0.2) = %v, %v; want %v", got, err, want)
	}
	if err := p.A.DelNeigh(p.va, "10.0.0.2"); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("DelNeigh of an entry that is not there = %v, want ErrNotFound", err)
	}

	// addrgenmode eui64 again: the next time it comes up, the link gets
	// its link-local address.
	must(t, p.B.SetDown(p.vb))
	must(t, p.B.SetAddrGenMode(p.vb, "eui64"))
	must(t, p.B.SetUp(p.vb))
	waitOperUp(t, p.B, p.vb)
	if out := testenv.IP(t, "-n", p.B.Name, "-6", "addr", "show", "dev", p.vb, "scope", "link"); !strings.Contains(out, "fe80") {
		t.Errorf("%s has no link-local address after addrgenmode eui64 and up:\n%s", p.vb, out)
	}

	// A link changed by name that is not there is ErrNotFound, as it was
	// when the change looked it up first.
	if err := p.A.SetUp("nosuch0"); !errors.Is(err, kernel.ErrNotFound) || !strings.Contains(err.Error(), "link nosuch0 in "+p.A.Name) {
		t.Errorf("SetUp(nosuch0) = %v, want ErrNotFound naming the link", err)
	}
}

// TestQuietMLDDropsTheReportsOfItsPorts checks the lab's table of family
// bridge against frames: in namespace A, a bridge with two ports, va
// (whose other end, vb, is host B) and lis, whose other end a packet
// socket listens on. B's MLD report for a new address's solicited-node
// group reaches the listener while va is not in the table's set, and not
// once it is.
func TestQuietMLDDropsTheReportsOfItsPorts(t *testing.T) {
	testenv.RequireRoot(t)
	p := newPair(t)
	a, table := p.A, "nsplay-kt"
	must(t, p.B.SetSysctlsOfEach(model.QuietIPv6Settings))
	must(t, a.AddBridge("br0", 0))
	must(t, a.AddVeth("lis", "lisp", a))
	for _, port := range []string{p.va, "lis"} {
		must(t, a.SetAddrGenMode(port, "none"))
		must(t, a.SetMaster(port, "br0"))
	}
	must(t, a.SetAddrGenMode("lisp", "none"))
	for _, l := range []string{"br0", "lis", "lisp", p.va} {
		must(t, a.SetUp(l))
	}
	must(t, p.B.SetUp(p.vb))
	waitOperUp(t, p.B, p.vb)
	waitOperUp(t, a, "lisp")

	must(t, a.QuietMLD(table))
	if err := a.QuietMLD(table); !errors.Is(err, model.ErrExists) {
		t.Errorf("QuietMLD twice = %v, want ErrExists", err)
	}
	listener := listenIPv6(t, a, "lisp")
	must(t, p.B.AddAddr(p.vb, cidr(t, "fd00:99::3/64")))
	if !sawReport(t, listener, "ff02::1:ff00:3") {
		t.Fatalf("the listener saw no MLD report for ff02::1:ff00:3 from a port outside the set: the test cannot see reports")
	}

	must(t, a.QuietMLDPort(table, p.va))
	must(t, a.QuietMLDPort(table, p.va)) // there already: it stays
	if got, err := a.QuietMLDPorts(table); err != nil || !slices.Equal(got, []string{p.va}) {
		t.Errorf("QuietMLDPorts = %v, %v; want [%s]", got, err, p.va)
	}
	must(t, p.B.AddAddr(p.vb, cidr(t, "fd00:99::2/64")))
	if sawReport(t, listener, "ff02::1:ff00:2") {
		t.Errorf("the MLD report for ff02::1:ff00:2 came in on %s, which is in the set, and was flooded", p.va)
	}
	list, err := exec.Command("ip", "netns", "exec", a.Name, "nft", "list", "table", "bridge", table).CombinedOutput()
	out := string(list)
	if err != nil {
		t.Fatalf("nft list table bridge %s: %v\n%s", table, err, out)
	}
	for _, want := range []string{"type filter hook prerouting", strings.TrimPrefix(model.MLDQuietRule, "prerouting "), `elements = { "va" }`} {
		if !strings.Contains(out, want) {
			t.Errorf("nft list table bridge %s lacks %q:\n%s", table, want, out)
		}
	}

	must(t, a.QuietMLDPortDel(table, p.va))
	if got, err := a.QuietMLDPorts(table); err != nil || len(got) != 0 {
		t.Errorf("QuietMLDPorts after QuietMLDPortDel = %v, %v; want none", got, err)
	}
	if err := a.QuietMLDPortDel(table, p.va); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("QuietMLDPortDel of a port not in the set = %v, want ErrNotFound", err)
	}

	must(t, a.DeleteBridgeTable(table))
	if _, err := a.QuietMLDPorts(table); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("QuietMLDPorts after the table was deleted = %v, want ErrNotFound", err)
	}
	if err := a.QuietMLDPort(table, p.va); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("QuietMLDPort without the table = %v, want ErrNotFound", err)
	}
}

// listenIPv6 opens a packet socket in ns that gets the IPv6 frames link
// receives.
func listenIPv6(t *testing.T, ns *kernel.NS, link string) int {
	t.Helper()
	l, err := ns.Link(link)
	must(t, err)
	proto := int(htons(unix.ETH_P_IPV6))
	var fd int
	must(t, ns.In(func() (err error) {
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		return err
	}))
	t.Cleanup(func() { unix.Close(fd) })
	must(t, unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: l.Index}))
	must(t, unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100_000}))
	return fd
}

// sawReport tells whether an MLDv1 report for group reaches the socket
// within 1.5 s.
func sawReport(t *testing.T, fd int, group string) bool {
	t.Helper()
	want := net.ParseIP(group)
	buf := make([]byte, 2048)
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		must(t, err)
		// Ethernet (14), IPv6 (40) with next header hop-by-hop (0), the
		// 8 bytes of its router alert, then ICMPv6.
		f := buf[:n]
		if len(f) >= 14+48+1 && f[14+6] == 0 && net.IP(f[14+24:14+40]).Equal(want) && f[14+48] == 131 {
			return true
		}
	}
	return false
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
