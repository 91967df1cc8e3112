package lab_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/testenv"
)

// Every test binary of this package runs in a sandbox of its own (fresh
// network namespace, private /run and so /run/nsplay, overlay /etc): see
// internal/testenv. The sandbox's start namespace plays the host.
func TestMain(m *testing.M) { testenv.Main(m) }

var seq atomic.Int64

// uniq returns a name no other test of this binary uses; short enough for
// a link name.
func uniq(prefix string) string { return fmt.Sprintf("%s%d", prefix, seq.Add(1)) }

// hostNS opens the test's own namespace, the lab's host.
func hostNS(t *testing.T) *kernel.NS {
	t.Helper()
	host, err := kernel.Current()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(host.Close)
	return host
}

// newLabName returns a fresh lab name; when the test ends, whatever a lab
// of that name left behind is taken down, so a failing test leaves nothing.
func newLabName(t *testing.T, host *kernel.NS) string {
	t.Helper()
	name := uniq("lab")
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(lab.Dir, name)); err != nil {
			return
		}
		if err := lab.Down(name, host, func(string) {}); err != nil {
			t.Errorf("clean up lab %s: %v", name, err)
		}
	})
	return name
}

// openLab opens the lab and closes it (without teardown) when the test
// ends; closing twice, or after Teardown, is harmless.
func openLab(t *testing.T, name string, host *kernel.NS) *lab.Lab {
	t.Helper()
	l, err := lab.Open(name, host, "test.star")
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	t.Cleanup(l.Close)
	return l
}

// outsideNS creates a namespace the lab did not create, removed when the
// test ends.
func outsideNS(t *testing.T) *kernel.NS {
	t.Helper()
	name := uniq("out")
	ns, err := kernel.CreateNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ns.Close()
		if err := kernel.DeleteNamed(name); err != nil && !errors.Is(err, kernel.ErrNotFound) {
			t.Errorf("clean up namespace %s: %v", name, err)
		}
	})
	return ns
}

// outsideVeth creates a veth pair in ns that the lab did not create,
// deleted when the test ends.
func outsideVeth(t *testing.T, ns *kernel.NS) (string, string) {
	t.Helper()
	a, b := uniq("xa"), uniq("xb")
	if err := ns.AddVeth(a, b, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ns.DeleteLink(a); err != nil && !errors.Is(err, kernel.ErrNotFound) {
			t.Errorf("clean up veth %s: %v", a, err)
		}
	})
	return a, b
}

// veth returns the spec and the make function of a veth pair.
func veth(ns *kernel.NS, name string, peerNS *kernel.NS, peer string) (lab.LinkSpec, func() error) {
	return lab.LinkSpec{NS: ns, Name: name, Kind: "veth", Peer: peer, PeerNS: peerNS},
		func() error { return ns.AddVeth(name, peer, peerNS) }
}

// mustNotMake is a make function for calls that must not create anything.
func mustNotMake(t *testing.T) func() error {
	return func() error {
		t.Errorf("make was called, but nothing should have been created")
		return errors.New("make must not be called")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// hasLink tells whether ip sees the link in a namespace ("" for the host).
func hasLink(t *testing.T, netns, link string) bool {
	t.Helper()
	_, ok := testenv.Links(t, netns)[link]
	return ok
}

// linkNames lists the links of a namespace ("" for the host) as ip sees them.
func linkNames(t *testing.T, netns string) []string {
	t.Helper()
	var names []string
	for name := range testenv.Links(t, netns) {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// ipHasAddr tells whether ip shows the address on the link.
func ipHasAddr(t *testing.T, netns, link, cidr string) bool {
	t.Helper()
	args := []string{"addr", "show", "dev", link}
	if netns != "" {
		args = append([]string{"-n", netns}, args...)
	}
	var out []struct {
		AddrInfo []struct {
			Local     string `json:"local"`
			Prefixlen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	testenv.IPJSON(t, &out, args...)
	for _, l := range out {
		for _, a := range l.AddrInfo {
			if fmt.Sprintf("%s/%d", a.Local, a.Prefixlen) == cidr {
				return true
			}
		}
	}
	return false
}

// ipRoutes returns `ip route show` of a namespace ("" for the host) in
// ip's own words, one route a line.
func ipRoutes(t *testing.T, netns string) string {
	t.Helper()
	args := []string{"route", "show"}
	if netns != "" {
		args = append([]string{"-n", netns}, args...)
	}
	return testenv.IP(t, args...)
}

// objects summarizes the lab's objects as "kind ns name" lines.
func objects(l *lab.Lab) []string {
	var out []string
	for _, o := range l.Objects() {
		s := o.Kind + " " + o.NS + " " + o.Name
		switch o.Kind {
		case "addr":
			s += o.Link + " " + o.CIDR
		case "route":
			s += o.Route.Dst
		}
		out = append(out, strings.TrimSpace(s))
	}
	return out
}

// countKind counts the lab's objects of a kind.
func countKind(l *lab.Lab, kind string) int {
	n := 0
	for _, o := range l.Objects() {
		if o.Kind == kind {
			n++
		}
	}
	return n
}

// labInfo returns what List says of a lab, and whether it lists it.
func labInfo(t *testing.T, name string) (lab.Info, bool) {
	t.Helper()
	infos, err := lab.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range infos {
		if i.Name == name {
			return i, true
		}
	}
	return lab.Info{}, false
}

// waitOperUp waits until the link is operationally up (the kernel's
// linkwatch work runs up to a second after a carrier change).
func waitOperUp(t *testing.T, ns *kernel.NS, link string) {
	t.Helper()
	for start := time.Now(); time.Since(start) < 3*time.Second; time.Sleep(10 * time.Millisecond) {
		if l, err := ns.Link(link); err == nil && l.Oper == "up" {
			return
		}
	}
	t.Fatalf("%s in %s never came operationally up", link, ns)
}
