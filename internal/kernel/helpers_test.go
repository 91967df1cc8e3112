package kernel_test

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
	"golang.org/x/sys/unix"
)

// Every test binary of this package runs in a sandbox of its own (fresh
// network namespace, private /run, overlay /etc): see internal/testenv.
func TestMain(m *testing.M) { testenv.Main(m) }

// paths are the machine's: inside the sandbox they are the test's own.
var paths = model.DefaultPaths

var seq atomic.Int64

// uniq returns a name no other test of this binary uses.
func uniq(prefix string) string { return fmt.Sprintf("%s%d", prefix, seq.Add(1)) }

// newNS creates a named namespace with a unique name and removes it when
// the test ends, also when the test deleted it already or failed.
func newNS(t *testing.T) *kernel.NS {
	t.Helper()
	name := uniq("kt")
	ns, err := kernel.CreateNamed(paths.RunNetns, name)
	if err != nil {
		t.Fatalf("CreateNamed(%q): %v", name, err)
	}
	t.Cleanup(func() { removeNS(t, ns) })
	return ns
}

// removeNS closes ns and deletes its name; both may have happened already.
func removeNS(t *testing.T, ns *kernel.NS) {
	t.Helper()
	ns.Close()
	if err := kernel.DeleteNamed(paths.RunNetns, ns.Name); err != nil && !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("clean up namespace %s: %v", ns.Name, err)
	}
}

// current opens the test's own namespace (the sandbox's).
func current(t *testing.T) *kernel.NS {
	t.Helper()
	host, err := kernel.Current()
	if err != nil {
		t.Fatalf("Current: %v", err)
	}
	t.Cleanup(host.Close)
	return host
}

// must fails the test at once on an error.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// cidr parses an interface address or fails the test.
func cidr(t *testing.T, s string) *net.IPNet {
	t.Helper()
	n, err := kernel.ParseCIDR(s)
	if err != nil {
		t.Fatalf("ParseCIDR(%q): %v", s, err)
	}
	return n
}

// pair is two namespaces joined by a veth: A's end va, B's end vb.
type pair struct {
	A, B   *kernel.NS
	va, vb string
}

// newPair makes two namespaces joined by a veth created in one request,
// both ends down and without addresses.
func newPair(t *testing.T) pair {
	t.Helper()
	p := pair{A: newNS(t), B: newNS(t), va: "va", vb: "vb"}
	must(t, p.A.AddVeth(p.va, p.vb, p.B))
	return p
}

// newConnected makes a pair with 10.0.0.1/24 on va and 10.0.0.2/24 on vb,
// both ends and both lo up.
func newConnected(t *testing.T) pair {
	t.Helper()
	p := newPair(t)
	must(t, p.A.AddAddr(p.va, cidr(t, "10.0.0.1/24")))
	must(t, p.B.AddAddr(p.vb, cidr(t, "10.0.0.2/24")))
	for _, step := range []struct {
		ns   *kernel.NS
		link string
	}{{p.A, "lo"}, {p.B, "lo"}, {p.A, p.va}, {p.B, p.vb}} {
		must(t, step.ns.SetUp(step.link))
	}
	waitOperUp(t, p.A, p.va)
	waitOperUp(t, p.B, p.vb)
	return p
}

// waitOperUp waits until the kernel reports the link operationally up.
// Carrier changes reach the operational state, and the link's queue
// starts sending, in the kernel's linkwatch work, up to a second after the
// change: a packet sent before is dropped.
func waitOperUp(t *testing.T, ns *kernel.NS, link string) {
	t.Helper()
	var l kernel.LinkInfo
	var err error
	if !eventually(3*time.Second, func() bool { l, err = ns.Link(link); return err == nil && l.Oper == "up" }) {
		t.Fatalf("%s in %s is not operationally up: %+v, %v", link, ns, l, err)
	}
}

// ipLink returns one link of a named namespace as ip sees it.
func ipLink(t *testing.T, ns *kernel.NS, name string) testenv.Link {
	t.Helper()
	l, ok := testenv.Links(t, ns.Name)[name]
	if !ok {
		t.Fatalf("ip -n %s link: no %s", ns.Name, name)
	}
	return l
}

// ipHasLink tells whether ip sees the link in the named namespace.
func ipHasLink(t *testing.T, ns *kernel.NS, name string) bool {
	t.Helper()
	_, ok := testenv.Links(t, ns.Name)[name]
	return ok
}

func hasFlag(l testenv.Link, flag string) bool { return slices.Contains(l.Flags, flag) }

// wantErrContains fails unless err is non-nil and mentions every part.
func wantErrContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

// eventually polls cond for up to limit; it reports whether cond held.
func eventually(limit time.Duration, cond func() bool) bool {
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Since(start) > limit {
			return false
		}
	}
}

// inode returns the inode of the file at path.
func inode(path string) (uint64, error) {
	var st unix.Stat_t
	err := unix.Stat(path, &st)
	return st.Ino, err
}

// nsInode returns the inode of the network namespace a /proc ns path names.
func nsInode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return st.Ino
}

// fdInode returns the inode of the namespace an open NS holds.
func fdInode(t *testing.T, ns *kernel.NS) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(ns.Fd(), &st); err != nil {
		t.Fatalf("fstat namespace %s: %v", ns, err)
	}
	return st.Ino
}
