package kernel_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/testenv"
	"github.com/vishvananda/netlink"
)

func TestValidLinkName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string // "" for valid
	}{
		{"eth0", ""},
		{"lxcbr0.1", ""},
		{"veth-ns1", ""},
		{strings.Repeat("a", 15), ""},
		{"", "interface name is empty"},
		{strings.Repeat("a", 16), `interface name "aaaaaaaaaaaaaaaa" is 16 bytes; Linux allows at most 15`},
		{"abcdefghijklmnopqrs", `interface name "abcdefghijklmnopqrs" is 19 bytes; Linux allows at most 15`},
		{"äöüäöüäöü", "is 18 bytes"}, // bytes, not characters
		{".", "is not allowed"},
		{"..", "is not allowed"},
		{"a/b", "contains '/', ':' or white space"},
		{"a:b", "contains '/', ':' or white space"},
		{"a b", "contains '/', ':' or white space"},
		{"a\tb", "contains '/', ':' or white space"},
		{"a\vb", "contains '/', ':' or white space"},
		{"a\fb", "contains '/', ':' or white space"},
		// The kernel's isspace() counts byte 0xa0 too: U+00A0 and à hold one.
		{"a\u00a0b", "the kernel takes its byte 0xa0"},
		{"brà", "the kernel takes its byte 0xa0"},
		{"br\xa0", "the kernel takes its byte 0xa0"},
		{"bré", ""}, // no 0xa0 byte
		{"b\x85", ""},
		{"a\x00b", "holds a NUL byte"},
		{"eth%d", "a template of a name it picks itself"},
	} {
		err := kernel.ValidLinkName(tc.name)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("ValidLinkName(%q) = %v, want nil", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("ValidLinkName(%q) = %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// TestValidLinkNameAgreesWithTheKernel asks the kernel over netlink (ip
// refuses some names itself) to make a bridge named "x" followed by each
// byte but NUL, which would end the name where the kernel reads it:
// ValidLinkName must accept exactly the names the kernel takes.
func TestValidLinkNameAgreesWithTheKernel(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	err := ns.In(func() error {
		for c := 1; c < 256; c++ {
			name := "x" + string([]byte{byte(c)})
			made := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}) == nil
			if valid := kernel.ValidLinkName(name) == nil; valid != made {
				t.Errorf("name x + byte 0x%02x: ValidLinkName says valid=%v, the kernel made it: %v", c, valid, made)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Every call that names a new link checks the name before asking the kernel.
func TestInvalidLinkNamesAreRejectedBeforeTheKernel(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	long := "abcdefghijklmnopqrs"
	want := `interface name "abcdefghijklmnopqrs" is 19 bytes; Linux allows at most 15`
	wantErrContains(t, ns.AddBridge(long, 0), want)
	wantErrContains(t, ns.AddVeth(long, "p", nil), want)
	wantErrContains(t, ns.AddVeth("v", long, nil), want)
	must(t, ns.AddBridge("br0", 0))
	wantErrContains(t, ns.Rename("br0", long), want)
	if links := testenv.Links(t, ns.Name); len(links) != 2 {
		t.Errorf("links after rejected names: %v, want lo and br0", keys(links))
	}
}

func keys[M ~map[string]V, V any](m M) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestAddBridge(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	must(t, ns.AddBridge("br0", 0))
	must(t, ns.AddBridge("br1", 1400))

	for name, mtu := range map[string]int{"br0": 1500, "br1": 1400} {
		l := ipLink(t, ns, name)
		if l.LinkInfo.Kind != "bridge" || l.MTU != mtu {
			t.Errorf("ip: %s kind %q mtu %d, want bridge, %d", name, l.LinkInfo.Kind, l.MTU, mtu)
		}
		info, err := ns.Link(name)
		if err != nil {
			t.Fatal(err)
		}
		if info.Kind != "bridge" || info.MTU != mtu || info.Index != l.Index || info.MAC != l.Address || info.Up {
			t.Errorf("Link(%s) = %+v, ip sees %+v", name, info, l)
		}
	}

	err := ns.AddBridge("br0", 0)
	if !errors.Is(err, kernel.ErrExists) {
		t.Errorf("AddBridge of an existing name: %v, want ErrExists", err)
	}
	wantErrContains(t, err, "br0", ns.Name)
}

// TestNewLinksHaveTheKernelsQueueLength: a bridge and both ends of a veth,
// also one whose peer is made in another namespace, get the transmit queue
// length `ip link add` gives them, the kernel's 1000. With 0, a qdisc that
// sizes its queue by it (pfifo, the default leaf of an htb class) holds
// a single packet.
func TestNewLinksHaveTheKernelsQueueLength(t *testing.T) {
	testenv.RequireRoot(t)
	p := newPair(t)
	must(t, p.A.AddBridge("br0", 0))
	must(t, p.A.AddVeth("v0", "v1", nil))
	for _, l := range []struct {
		ns   *kernel.NS
		name string
	}{{p.A, "br0"}, {p.A, "v0"}, {p.A, "v1"}, {p.A, p.va}, {p.B, p.vb}} {
		if got := ipLink(t, l.ns, l.name).TxQLen; got != 1000 {
			t.Errorf("ip -n %s link show %s: qlen %d, want 1000, as ip link add makes it", l.ns.Name, l.name, got)
		}
	}
}

func TestSTP(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	must(t, ns.AddBridge("br0", 0))
	must(t, ns.AddVeth("v0", "v1", nil))

	ipSTP := func() int {
		t.Helper()
		s := ipLink(t, ns, "br0").LinkInfo.Data.STPState
		if s == nil {
			t.Fatalf("ip -d link shows no stp_state for br0")
		}
		return *s
	}
	for _, on := range []bool{true, false, true, false} {
		must(t, ns.SetSTP("br0", on))
		got, err := ns.STP("br0")
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		if on {
			want = 1
		}
		if got != on || ipSTP() != want {
			t.Errorf("after SetSTP(%v): STP = %v, ip stp_state = %d", on, got, ipSTP())
		}
	}

	if _, err := ns.STP("v0"); err == nil {
		t.Errorf("STP of a veth: no error")
	} else {
		wantErrContains(t, err, "v0", "is it a bridge?")
	}
	if err := ns.SetSTP("v0", true); err == nil {
		t.Errorf("SetSTP on a veth: no error")
	}
	if _, err := ns.STP("nope"); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("STP of a missing link: %v, want ErrNotFound", err)
	}
	if err := ns.SetSTP("nope", true); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("SetSTP of a missing link: %v, want ErrNotFound", err)
	}
}

func TestAddVethSameNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	must(t, ns.AddVeth("v0", "v1", nil))
	must(t, ns.AddVeth("w0", "w1", ns)) // peerNS == ns is the same as nil

	links := testenv.Links(t, ns.Name)
	for _, name := range []string{"v0", "v1", "w0", "w1"} {
		if links[name].LinkInfo.Kind != "veth" {
			t.Errorf("ip: %s is %q, want a veth", name, links[name].LinkInfo.Kind)
		}
	}
	v0, err := ns.Link("v0")
	if err != nil {
		t.Fatal(err)
	}
	if v0.Kind != "veth" || v0.PeerNetnsID != -1 || v0.PeerIndex != links["v1"].Index {
		t.Errorf("Link(v0) = %+v; want a veth whose peer is #%d in the same namespace", v0, links["v1"].Index)
	}
	pns, peer, err := ns.Peer(v0, nil)
	if err != nil || pns != ns || peer.Name != "v1" {
		t.Errorf("Peer(v0) = %v, %+v, %v; want v1 in %s", pns, peer, err, ns)
	}

	if err := ns.AddVeth("v0", "v9", nil); !errors.Is(err, kernel.ErrExists) {
		t.Errorf("AddVeth with an existing name: %v, want ErrExists", err)
	}
	if err := ns.AddVeth("v8", "v1", nil); !errors.Is(err, kernel.ErrExists) {
		t.Errorf("AddVeth with an existing peer name: %v, want ErrExists", err)
	}
	if ipHasLink(t, ns, "v9") || ipHasLink(t, ns, "v8") {
		t.Errorf("a failed AddVeth left an end behind")
	}
}

// TestPeerFoundAgainAfterReopen checks that a namespace remembers the
// netns ids it learnt only for the handles that are open: once the peer's
// handle is closed, the peer is found through the handle open now.
func TestPeerFoundAgainAfterReopen(t *testing.T) {
	testenv.RequireRoot(t)
	p := newPair(t)
	va, err := p.A.Link(p.va)
	must(t, err)
	first, err := kernel.OpenNamed(paths.RunNetns, p.B.Name)
	must(t, err)
	if pns, _, err := p.A.Peer(va, []*kernel.NS{first}); err != nil || pns != first {
		t.Fatalf("Peer(%s) = %v, %v; want the handle %p", p.va, pns, err, first)
	}
	first.Close()
	again, err := kernel.OpenNamed(paths.RunNetns, p.B.Name)
	must(t, err)
	defer again.Close()
	pns, peer, err := p.A.Peer(va, []*kernel.NS{first, again})
	if err != nil || pns != again || peer.Name != p.vb {
		t.Errorf("Peer(%s) after the first handle closed = %v, %+v, %v; want %s through the handle open now", p.va, pns, peer, err, p.vb)
	}
}

func TestAddVethPeerInAnotherNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	p := newPair(t)
	if !ipHasLink(t, p.A, p.va) || ipHasLink(t, p.A, p.vb) {
		t.Errorf("ip -n %s: want %s and not %s", p.A, p.va, p.vb)
	}
	if !ipHasLink(t, p.B, p.vb) || ipHasLink(t, p.B, p.va) {
		t.Errorf("ip -n %s: want %s and not %s", p.B, p.vb, p.va)
	}

	va, err := p.A.Link(p.va)
	if err != nil {
		t.Fatal(err)
	}
	id, err := p.A.NetnsIDOf(p.B)
	if err != nil {
		t.Fatal(err)
	}
	if id < 0 || va.PeerNetnsID != id || va.PeerIndex != ipLink(t, p.B, p.vb).Index {
		t.Errorf("Link(%s) = %+v; want peer #%d in netns id %d", p.va, va, ipLink(t, p.B, p.vb).Index, id)
	}
	// ip agrees on the id under which A knows B.
	var ids []netnsID
	testenv.IPJSON(t, &ids, "-n", p.A.Name, "netns", "list-id")
	if !slices.Contains(ids, netnsID{id, p.B.Name}) {
		t.Errorf("ip -n %s netns list-id = %+v, want %s as %d", p.A, ids, p.B, id)
	}

	// Peer finds the other end only among the namespaces it is given.
	pns, peer, err := p.A.Peer(va, []*kernel.NS{p.A, p.B})
	if err != nil || !pns.Same(p.B) || peer.Name != p.vb {
		t.Errorf("Peer(%s) = %v, %+v, %v; want %s in %s", p.va, pns, peer, err, p.vb, p.B)
	}
	if _, _, err := p.A.Peer(va, nil); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("Peer without the peer's namespace: %v, want ErrNotFound", err)
	}
	lo, err := p.A.Link("lo")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.A.Peer(lo, []*kernel.NS{p.A, p.B}); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("Peer(lo): %v, want ErrNotFound", err)
	}
}

// netnsID is one line of `ip -j netns list-id`.
type netnsID struct {
	NSID int    `json:"nsid"`
	Name string `json:"name"`
}

func TestSetUpAndDown(t *testing.T) {
	testenv.RequireRoot(t)
	p := newPair(t)
	must(t, p.A.SetUp(p.va))
	l := ipLink(t, p.A, p.va)
	if !hasFlag(l, "UP") || hasFlag(l, "LOWER_UP") {
		t.Errorf("ip: %s flags %v after SetUp with the peer down, want UP without LOWER_UP", p.va, l.Flags)
	}
	info, err := p.A.Link(p.va)
	if err != nil {
		t.Fatal(err)
	}
	// Whether the kernel says down or lowerlayerdown depends on where the
	// peer is; Oper must say what ip says.
	if !info.Up || info.Carrier || info.Oper == "up" || info.Oper != strings.ToLower(l.OperState) {
		t.Errorf("Link(%s) = %+v, ip operstate %s; want up, no carrier, not oper up", p.va, info, l.OperState)
	}

	must(t, p.B.SetUp(p.vb))
	if !eventually(2*time.Second, func() bool { info, err = p.A.Link(p.va); return err == nil && info.Oper == "up" }) {
		t.Errorf("Link(%s) = %+v, %v; want oper up once the peer is up", p.va, info, err)
	}
	l = ipLink(t, p.A, p.va)
	if !info.Carrier || !hasFlag(l, "LOWER_UP") || strings.ToLower(l.OperState) != info.Oper {
		t.Errorf("Link(%s) = %+v, ip sees %+v", p.va, info, l)
	}

	must(t, p.A.SetDown(p.va))
	if l := ipLink(t, p.A, p.va); hasFlag(l, "UP") {
		t.Errorf("ip: %s flags %v after SetDown", p.va, l.Flags)
	}
	info, _ = p.A.Link(p.va)
	if info.Up || info.Oper != "down" {
		t.Errorf("Link(%s) after SetDown = %+v", p.va, info)
	}

	for _, op := range []func(string) error{p.A.SetUp, p.A.SetDown} {
		if err := op("nope"); !errors.Is(err, kernel.ErrNotFound) {
			t.Errorf("SetUp/SetDown of a missing link: %v, want ErrNotFound", err)
		}
	}
}

func TestRename(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	must(t, ns.AddVeth("veth-ns1", "peer0", nil))
	before := ipLink(t, ns, "veth-ns1")
	must(t, ns.Rename("veth-ns1", "eth0"))
	if ipHasLink(t, ns, "veth-ns1") {
		t.Errorf("the old name is still there")
	}
	if l := ipLink(t, ns, "eth0"); l.Index != before.Index {
		t.Errorf("eth0 is #%d, the renamed link was #%d", l.Index, before.Index)
	}
	if err := ns.Rename("nope", "x"); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("Rename of a missing link: %v, want ErrNotFound", err)
	}
	if err := ns.Rename("eth0", "peer0"); !errors.Is(err, kernel.ErrExists) {
		t.Errorf("Rename onto an existing name: %v, want ErrExists", err)
	}
}

func TestSetMasterAndNoMaster(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	must(t, ns.AddBridge("br0", 0))
	must(t, ns.AddVeth("v0", "v1", nil))
	must(t, ns.SetMaster("v0", "br0"))

	if m := ipLink(t, ns, "v0").Master; m != "br0" {
		t.Errorf("ip: v0 master %q, want br0", m)
	}
	v0, _ := ns.Link("v0")
	br, _ := ns.Link("br0")
	if v0.MasterIndex != br.Index {
		t.Errorf("Link(v0).MasterIndex = %d, want br0's %d", v0.MasterIndex, br.Index)
	}

	must(t, ns.SetNoMaster("v0"))
	if m := ipLink(t, ns, "v0").Master; m != "" {
		t.Errorf("ip: v0 master %q after SetNoMaster", m)
	}
	if v0, _ := ns.Link("v0"); v0.MasterIndex != 0 {
		t.Errorf("Link(v0).MasterIndex = %d after SetNoMaster", v0.MasterIndex)
	}

	if err := ns.SetMaster("v0", "nope"); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("SetMaster to a missing bridge: %v, want ErrNotFound", err)
	}
	if err := ns.SetMaster("nope", "br0"); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("SetMaster of a missing link: %v, want ErrNotFound", err)
	}
}

func TestMoveTo(t *testing.T) {
	testenv.RequireRoot(t)
	a, b := newNS(t), newNS(t)
	must(t, a.AddVeth("v0", "v1", nil))
	must(t, a.MoveTo("v0", b))
	if ipHasLink(t, a, "v0") || !ipHasLink(t, b, "v0") {
		t.Errorf("after MoveTo: v0 in %s: %v, in %s: %v", a, ipHasLink(t, a, "v0"), b, ipHasLink(t, b, "v0"))
	}
	// The end left behind now has its peer in b.
	v1, _ := a.Link("v1")
	if pns, p, err := a.Peer(v1, []*kernel.NS{a, b}); err != nil || !pns.Same(b) || p.Name != "v0" {
		t.Errorf("Peer(v1) after the move = %v, %+v, %v; want v0 in %s", pns, p, err, b)
	}
	if err := a.MoveTo("v0", b); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("MoveTo of a link that left: %v, want ErrNotFound", err)
	}
	// A name taken in the target namespace is refused, and nothing moves.
	must(t, a.AddBridge("v0", 0))
	if err := a.MoveTo("v0", b); err == nil {
		t.Errorf("MoveTo onto a taken name succeeded")
	}
	if ipLink(t, a, "v0").LinkInfo.Kind != "bridge" {
		t.Errorf("the bridge v0 left %s", a)
	}
}

func TestDeleteLink(t *testing.T) {
	testenv.RequireRoot(t)
	p := newPair(t)
	must(t, p.A.AddBridge("br0", 0))

	must(t, p.A.DeleteLink("br0"))
	if ipHasLink(t, p.A, "br0") {
		t.Errorf("br0 still there after DeleteLink")
	}
	// Deleting one end of a veth removes the other, in the other namespace too.
	must(t, p.A.DeleteLink(p.va))
	if ipHasLink(t, p.A, p.va) || ipHasLink(t, p.B, p.vb) {
		t.Errorf("after DeleteLink(%s): %s in %s: %v, %s in %s: %v", p.va, p.va, p.A, ipHasLink(t, p.A, p.va), p.vb, p.B, ipHasLink(t, p.B, p.vb))
	}
	err := p.A.DeleteLink(p.va)
	if !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("DeleteLink of a missing link: %v, want ErrNotFound", err)
	}
	wantErrContains(t, err, p.va, p.A.Name)
}

func TestSetMTU(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	must(t, ns.AddVeth("v0", "v1", nil))
	must(t, ns.SetMTU("v0", 1400))
	if mtu := ipLink(t, ns, "v0").MTU; mtu != 1400 {
		t.Errorf("ip: mtu %d, want 1400", mtu)
	}
	if l, _ := ns.Link("v0"); l.MTU != 1400 {
		t.Errorf("Link(v0).MTU = %d, want 1400", l.MTU)
	}
	wantErrContains(t, ns.SetMTU("v0", 10), "mtu 10", "v0")
	if mtu := ipLink(t, ns, "v0").MTU; mtu != 1400 {
		t.Errorf("a refused SetMTU changed the mtu to %d", mtu)
	}
	if err := ns.SetMTU("nope", 1400); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("SetMTU of a missing link: %v, want ErrNotFound", err)
	}
}

func TestLinksAndLinkByIndex(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	must(t, ns.AddBridge("br0", 0))
	must(t, ns.AddVeth("v0", "v1", nil))
	must(t, ns.SetMaster("v0", "br0"))
	must(t, ns.SetUp("lo"))
	must(t, ns.SetUp("br0"))
	// The kernel's link watch gives the bridge its operational state in
	// the background, up to a second late: compare once it has.
	for start := time.Now(); time.Since(start) < 3*time.Second; time.Sleep(10 * time.Millisecond) {
		if br, err := ns.Link("br0"); err == nil && br.Oper != "unknown" {
			break
		}
	}

	infos, err := ns.Links()
	if err != nil {
		t.Fatal(err)
	}
	ip := testenv.Links(t, ns.Name)
	if len(infos) != len(ip) {
		t.Fatalf("Links() has %d links, ip %d: %+v", len(infos), len(ip), infos)
	}
	if !slices.IsSortedFunc(infos, func(a, b kernel.LinkInfo) int { return a.Index - b.Index }) {
		t.Errorf("Links() is not in index order: %+v", infos)
	}
	wantKind := map[string]string{"lo": "loopback", "br0": "bridge", "v0": "veth", "v1": "veth"}
	for _, info := range infos {
		l, ok := ip[info.Name]
		if !ok {
			t.Errorf("Links() has %s, ip does not", info.Name)
			continue
		}
		master := ""
		if info.MasterIndex != 0 {
			m, err := ns.LinkByIndex(info.MasterIndex)
			if err != nil {
				t.Fatal(err)
			}
			master = m.Name
		}
		if info.Index != l.Index || info.MTU != l.MTU || info.MAC != l.Address || master != l.Master ||
			info.Up != hasFlag(l, "UP") || info.Carrier != hasFlag(l, "LOWER_UP") ||
			info.Oper != strings.ToLower(l.OperState) || info.Kind != wantKind[info.Name] {
			t.Errorf("Links() says %+v (master %q), ip says %+v", info, master, l)
		}
		byIndex, err := ns.LinkByIndex(info.Index)
		if err != nil || byIndex.Name != info.Name {
			t.Errorf("LinkByIndex(%d) = %+v, %v; want %s", info.Index, byIndex, err, info.Name)
		}
	}

	if _, err := ns.LinkByIndex(99999); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("LinkByIndex of a missing index: %v, want ErrNotFound", err)
	}
	_, err = ns.Link("nope")
	if !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("Link of a missing name: %v, want ErrNotFound", err)
	}
	wantErrContains(t, err, "nope", ns.Name)
}
