package kernel_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

func TestNamedNamespaceLifecycle(t *testing.T) {
	testenv.RequireRoot(t)
	name := uniq("life")
	if kernel.NamedExists(paths.RunNetns, name) {
		t.Fatalf("NamedExists(%q) before creation", name)
	}
	ns, err := kernel.CreateNamed(paths.RunNetns, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeNS(t, ns) })

	if ns.Name != name || ns.Path != filepath.Join(paths.RunNetns, name) || ns.String() != name {
		t.Errorf("CreateNamed: Name %q Path %q String %q, want %q, %s, %q", ns.Name, ns.Path, ns.String(), name, filepath.Join(paths.RunNetns, name), name)
	}
	if !kernel.NamedExists(paths.RunNetns, name) {
		t.Errorf("NamedExists(%q) = false after CreateNamed", name)
	}
	if !slices.Contains(testenv.Netns(t), name) {
		t.Errorf("ip netns list %v does not show %s", testenv.Netns(t), name)
	}
	// A new namespace holds only its loopback, down.
	links := testenv.Links(t, name)
	if len(links) != 1 || links["lo"].Name != "lo" || hasFlag(links["lo"], "UP") {
		t.Errorf("ip -n %s link = %+v, want only lo, down", name, links)
	}

	again, err := kernel.OpenNamed(paths.RunNetns, name)
	if err != nil {
		t.Fatalf("OpenNamed: %v", err)
	}
	if !again.Same(ns) || !ns.Same(again) {
		t.Errorf("OpenNamed(%q) is not the same namespace as CreateNamed's", name)
	}
	again.Close()

	_, err = kernel.CreateNamed(paths.RunNetns, name)
	if !errors.Is(err, kernel.ErrExists) {
		t.Errorf("CreateNamed(%q) twice: %v, want ErrExists", name, err)
	}
	// The failed duplicate must not have damaged the first one.
	if again, err := kernel.OpenNamed(paths.RunNetns, name); err != nil || !again.Same(ns) {
		t.Errorf("after a duplicate CreateNamed, OpenNamed(%q): %v (same: %v)", name, err, err == nil && again.Same(ns))
	} else {
		again.Close()
	}

	if err := kernel.DeleteNamed(paths.RunNetns, name); err != nil {
		t.Fatalf("DeleteNamed: %v", err)
	}
	if kernel.NamedExists(paths.RunNetns, name) {
		t.Errorf("NamedExists(%q) after DeleteNamed", name)
	}
	if slices.Contains(testenv.Netns(t), name) {
		t.Errorf("ip netns list still shows %s after DeleteNamed", name)
	}
	if _, err := kernel.OpenNamed(paths.RunNetns, name); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("OpenNamed of a deleted namespace: %v, want ErrNotFound", err)
	}
	if err := kernel.DeleteNamed(paths.RunNetns, name); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("DeleteNamed twice: %v, want ErrNotFound", err)
	}
}

func TestNSDelete(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	if err := ns.Delete(nil); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if kernel.NamedExists(paths.RunNetns, ns.Name) || slices.Contains(testenv.Netns(t), ns.Name) {
		t.Errorf("namespace %s still there after Delete", ns.Name)
	}

	// A namespace without a name (the start namespace) is never deleted.
	host := current(t)
	err := host.Delete(nil)
	wantErrContains(t, err, "has no name")
	if _, err := host.Links(); err != nil {
		t.Errorf("the start namespace no longer answers after a refused Delete: %v", err)
	}
}

// A handle of a namespace that is gone refuses every use with ErrGone, and
// never acts in the namespace of the calling thread instead: deleted by
// Delete, closed, or deleted behind its back by `ip netns del`.
func TestGoneHandleRefuses(t *testing.T) {
	testenv.RequireRoot(t)
	host := current(t)
	for _, c := range []struct {
		how  string
		end  func(*kernel.NS) error
		want string
	}{
		{"Delete", func(ns *kernel.NS) error { return ns.Delete(nil) }, "was deleted"},
		{"Close", func(ns *kernel.NS) error { ns.Close(); return nil }, "is closed"},
		{"ip netns del", func(ns *kernel.NS) error { return kernel.DeleteNamed(paths.RunNetns, ns.Name) }, "is gone"},
	} {
		t.Run(strings.ReplaceAll(c.how, " ", "_"), func(t *testing.T) {
			ns := newNS(t)
			must(t, c.end(ns))
			a, b := uniq("ga"), uniq("gb")
			uses := map[string]error{
				"Err":          ns.Err(),
				"AddVeth":      ns.AddVeth(a, b, nil),
				"AddVeth peer": host.AddVeth(a, b, ns),
				"AddBridge":    ns.AddBridge(a, 0),
				"AddRoute":     ns.AddRoute(kernel.RouteSpec{Dst: "10.99.0.0/16", Dev: "lo", Table: "main"}),
				"SetUp":        ns.SetUp("lo"),
				"SetSTP":       ns.SetSTP("lo", true),
				"SetNetnsID":   host.SetNetnsID(ns, 77),
				"In":           ns.In(func() error { return nil }),
				"Delete":       ns.Delete(nil),
			}
			_, uses["Link"] = ns.Link("lo")
			_, uses["LinkByIndex"] = ns.LinkByIndex(1)
			_, uses["Links"] = ns.Links()
			_, uses["Addrs"] = ns.Addrs("lo", true)
			_, uses["Routes"] = ns.Routes(true)
			_, _, uses["RouteTo"] = ns.RouteTo(net.ParseIP("127.0.0.1"))
			_, uses["PIDs"] = ns.PIDs()
			_, uses["NetnsIDOf"] = host.NetnsIDOf(ns)
			_, uses["Listening"] = ns.Listening("tcp", 22)
			_, uses["Monitor"] = ns.Monitor(func(kernel.Change) {}, false)
			for use, err := range uses {
				if !errors.Is(err, kernel.ErrGone) {
					t.Errorf("%s after %s: %v, want ErrGone", use, c.how, err)
				}
			}
			if err := ns.Err(); err == nil || !strings.Contains(err.Error(), ns.Name+" "+c.want) {
				t.Errorf("Err after %s = %v, want it to say %q", c.how, err, ns.Name+" "+c.want)
			}
			if ipHasLink(t, host, a) || ipHasLink(t, host, b) {
				t.Errorf("a link of the gone namespace %s landed in the host", ns.Name)
			}
			if routes, err := host.Routes(true); err != nil || slices.ContainsFunc(routes, func(r kernel.RouteInfo) bool { return r.Dst == "10.99.0.0/16" }) {
				t.Errorf("a route of the gone namespace %s landed in the host (%v)", ns.Name, err)
			}
		})
	}
}

// A link moved into a namespace that is gone stays where it is.
func TestMoveToGoneNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	p := newPair(t)
	gone := newNS(t)
	must(t, gone.Delete(nil))
	if err := p.A.MoveTo(p.va, gone); !errors.Is(err, kernel.ErrGone) {
		t.Errorf("MoveTo a deleted namespace: %v, want ErrGone", err)
	}
	if !ipHasLink(t, p.A, p.va) {
		t.Errorf("%s left %s on a move to a deleted namespace", p.va, p.A)
	}
}

// Delete waits until the veth ends whose peers were in the deleted
// namespace are gone from the known namespaces: the kernel removes them in
// the background.
func TestNSDeleteWaitsForOutsidePeers(t *testing.T) {
	testenv.RequireRoot(t)
	for i := range 5 {
		p := newPair(t)
		if err := p.A.Delete([]*kernel.NS{p.A, p.B}); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if ipHasLink(t, p.B, p.vb) {
			t.Fatalf("round %d: %s is still in %s right after Delete of its peer's namespace", i, p.vb, p.B)
		}
	}
}

func TestNetnsNameValidation(t *testing.T) {
	testenv.RequireRoot(t)
	before, _ := os.ReadDir(paths.RunNetns)
	for _, name := range []string{"", ".", "..", "a/b", "/abs", strings.Repeat("n", 256), "a b", " ns", "a\tb", "a\nb", "a\u200bb"} {
		if err := model.ValidNetnsName(name); err == nil {
			t.Errorf("ValidNetnsName(%q) = nil, want an error", name)
		}
		if ns, err := kernel.CreateNamed(paths.RunNetns, name); err == nil {
			ns.Delete(nil)
			t.Errorf("CreateNamed(%q) succeeded", name)
		}
		if ns, err := kernel.OpenNamed(paths.RunNetns, name); err == nil {
			ns.Close()
			t.Errorf("OpenNamed(%q) succeeded", name)
		}
	}
	for _, name := range []string{"ns1", "a.b-c_d", strings.Repeat("n", 255)} {
		if err := model.ValidNetnsName(name); err != nil {
			t.Errorf("ValidNetnsName(%q) = %v, want nil", name, err)
		}
	}
	after, _ := os.ReadDir(paths.RunNetns)
	if len(after) != len(before) {
		t.Errorf("invalid names changed %s: %d entries before, %d after", paths.RunNetns, len(before), len(after))
	}
}

func TestCurrentAndSame(t *testing.T) {
	testenv.RequireRoot(t)
	host := current(t)
	if host.Name != "" || host.Label != "host" || host.String() != "host" {
		t.Errorf("Current: Name %q Label %q String %q, want \"\", host, host", host.Name, host.Label, host.String())
	}
	if got, want := fdInode(t, host), nsInode(t, "/proc/self/ns/net"); got != want {
		t.Errorf("Current is namespace %d, the process is in %d", got, want)
	}

	byPath, err := kernel.Open(paths.RunNetns, "/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer byPath.Close()
	if !host.Same(byPath) {
		t.Errorf("Current and Open(/proc/self/ns/net) are not Same")
	}
	if byPath.String() != "/proc/self/ns/net" {
		t.Errorf("String of a namespace opened by path = %q, want the path", byPath.String())
	}

	other := newNS(t)
	if host.Same(other) || other.Same(host) {
		t.Errorf("Current is Same as a new namespace")
	}
	if host.Same(nil) {
		t.Errorf("Same(nil) = true")
	}
	if !other.Same(other) {
		t.Errorf("a namespace is not Same as itself")
	}

	if _, err := kernel.Open(paths.RunNetns, "/nonexistent/ns/net"); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("Open of a missing path: %v, want ErrNotFound", err)
	}
	if ns, err := kernel.Open(paths.RunNetns, "/etc/hostname"); err == nil {
		ns.Close()
		t.Errorf("Open of a file that is no namespace succeeded")
	} else {
		wantErrContains(t, err, "/etc/hostname", "is not a namespace")
	}
	// A path in the folder of named namespaces names the namespace.
	if named, err := kernel.Open(paths.RunNetns, other.Path); err != nil || named.Name != other.Name || !named.Same(other) {
		t.Errorf("Open(%s) = %v, %v; want the namespace named %s", other.Path, named, err, other.Name)
	} else {
		named.Close()
	}
}

func TestPIDs(t *testing.T) {
	testenv.RequireRoot(t)
	host := current(t)
	pids, err := host.PIDs()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pids, os.Getpid()) {
		t.Errorf("Current().PIDs() = %v, does not hold the test's pid %d", pids, os.Getpid())
	}

	ns := newNS(t)
	pids, err = ns.PIDs()
	if err != nil || len(pids) != 0 {
		t.Errorf("PIDs of a new namespace = %v, %v; want none", pids, err)
	}

	// A command run in the namespace shows up, as `ip netns pids` sees it.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := kernel.Exec(ctx, kernel.ExecSpec{NS: ns, Argv: []string{"sleep", "30"}, Env: os.Environ()})
		done <- err
	}()
	defer func() {
		cancel()
		<-done
	}()
	if !eventually(5*time.Second, func() bool { pids, err = ns.PIDs(); return err == nil && len(pids) > 0 }) {
		t.Fatalf("PIDs never showed the command running in %s: %v, %v", ns, pids, err)
	}
	var ipPIDs []int
	for _, f := range strings.Fields(testenv.IP(t, "netns", "pids", ns.Name)) {
		pid, _ := strconv.Atoi(f)
		ipPIDs = append(ipPIDs, pid)
	}
	slices.Sort(pids)
	slices.Sort(ipPIDs)
	if !slices.Equal(pids, ipPIDs) {
		t.Errorf("PIDs = %v, ip netns pids = %v", pids, ipPIDs)
	}
	if slices.Contains(pids, os.Getpid()) {
		t.Errorf("the test process is listed in %s", ns)
	}
}

func TestInRunsInsideTheNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	want := fdInode(t, ns)
	var inside uint64
	sentinel := errors.New("from fn")
	err := ns.In(func() error {
		inside = nsInode(t, "/proc/thread-self/ns/net")
		return sentinel
	})
	if !errors.Is(err, sentinel) {
		t.Errorf("In returned %v, want fn's error", err)
	}
	if inside != want {
		t.Errorf("fn ran in namespace %d, want %d", inside, want)
	}
	start := nsInode(t, "/proc/self/ns/net")
	if got := nsInode(t, "/proc/thread-self/ns/net"); got != start {
		t.Errorf("after In, the calling thread is in namespace %d, want %d", got, start)
	}
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}
