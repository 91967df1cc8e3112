package kernel_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// TestBackendAppliesOpsAndReadsThemBack builds a small lab through the
// kernel backend's ops only, reads it back through the backend and checks
// it with ip, then deletes the namespace and sees everything in it gone.
func TestBackendAppliesOpsAndReadsThemBack(t *testing.T) {
	testenv.RequireRoot(t)
	b, err := kernel.NewBackend(model.DefaultPaths)
	must(t, err)
	t.Cleanup(b.Close)
	name, br, out, in := uniq("bk"), uniq("bb"), uniq("bo"), uniq("bi")
	ns := model.Named(name)
	t.Cleanup(func() {
		b.Apply(model.LinkDel{Link: model.Link(model.Host, br)})
		b.Apply(model.NetnsDel{Name: name})
	})
	for _, op := range []model.Op{
		model.NetnsAdd{Name: name},
		model.LinkAdd{Link: model.Link(model.Host, br), Spec: model.Bridge{STP: true}},
		model.AddrAdd{Link: model.Link(model.Host, br), CIDR: "10.61.0.1/24"},
		model.LinkSetUp{Link: model.Link(model.Host, br), Up: true},
		model.LinkAdd{Link: model.Link(model.Host, out), Spec: model.Veth{Peer: model.Link(ns, in)}},
		model.LinkSetMaster{Link: model.Link(model.Host, out), Master: br},
		model.LinkSetUp{Link: model.Link(model.Host, out), Up: true},
		model.LinkSetUp{Link: model.Link(ns, in), Up: true},
		model.AddrAdd{Link: model.Link(ns, in), CIDR: "10.61.0.2/24"},
		model.RouteAdd{NS: ns, Route: model.Route{Dst: "default", Via: "10.61.0.1", Table: "main"}},
	} {
		if err := b.Apply(op); err != nil {
			t.Fatalf("%s: %v", op.Text(), err)
		}
	}
	bridge, err := b.Link(model.Link(model.Host, br))
	must(t, err)
	if bridge.Kind != "bridge" || bridge.STP == nil || !*bridge.STP || len(bridge.Ports) != 1 || bridge.Ports[0] != out {
		t.Errorf("bridge read back as %+v", bridge)
	}
	veth, err := b.Link(model.Link(ns, in))
	must(t, err)
	if veth.Peer == nil || *veth.Peer != model.Link(model.Host, out) {
		t.Errorf("peer of %s is %v, want %s in host", in, veth.Peer, out)
	}
	if got := testenv.Links(t, "")[out].Master; got != br {
		t.Errorf("ip says the master of %s is %q, want %s", out, got, br)
	}
	routes, err := b.Routes(ns)
	must(t, err)
	found := false
	for _, r := range routes {
		found = found || (r.Dst == "default" && r.Via == "10.61.0.1" && r.Dev == in)
	}
	if !found {
		t.Errorf("routes of %s: %+v, want the default route via 10.61.0.1 dev %s", name, routes, in)
	}
	if err := b.Apply(model.AddrAdd{Link: model.Link(ns, in), CIDR: "10.61.0.2/24"}); !errors.Is(err, model.ErrExists) {
		t.Errorf("adding the address again: %v, want ErrExists", err)
	}
	must(t, b.Apply(model.NetnsDel{Name: name}))
	if _, err := b.Identity(ns); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("identity of the deleted namespace: %v, want ErrNotFound", err)
	}
	if _, err := b.Link(model.Link(model.Host, out)); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("the veth end outside the deleted namespace: %v, want it gone with it", err)
	}
}

// A deletion that names the veth ends it takes along (as teardown does,
// from its journal) is not preceded by a read of the namespace's links, and
// the next read still waits for those ends to be gone.
func TestNetnsDelWaitsForTheEndsItNames(t *testing.T) {
	testenv.RequireRoot(t)
	b, err := kernel.NewBackend(model.DefaultPaths)
	must(t, err)
	t.Cleanup(b.Close)
	name, out1, out2 := uniq("al"), uniq("alo"), uniq("alo")
	ns := model.Named(name)
	t.Cleanup(func() {
		b.Apply(model.NetnsDel{Name: name})
		b.Apply(model.LinkDel{Link: model.Link(model.Host, out1)})
		b.Apply(model.LinkDel{Link: model.Link(model.Host, out2)})
	})
	must(t, b.Apply(model.NetnsAdd{Name: name}))
	for i, out := range []string{out1, out2} {
		must(t, b.Apply(model.LinkAdd{Link: model.Link(model.Host, out), Spec: model.Veth{Peer: model.Link(ns, fmt.Sprintf("eth%d", i))}}))
	}
	must(t, b.Apply(model.NetnsDel{Name: name, Along: []model.LinkRef{model.Link(model.Host, out1), model.Link(model.Host, out2)}}))
	for _, out := range []string{out1, out2} {
		if _, err := b.Link(model.Link(model.Host, out)); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("%s after its namespace was deleted: %v, want it gone", out, err)
		}
		if _, ok := testenv.Links(t, "")[out]; ok {
			t.Errorf("ip still shows %s after the backend waited for it", out)
		}
	}
}

// TestBackendNeverFallsBackToAnotherNamespace: a namespace deleted and made
// again under its name has another identity, and one that is gone is
// ErrNotFound for every read, never the host's state.
func TestBackendNeverFallsBackToAnotherNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	b, err := kernel.NewBackend(model.DefaultPaths)
	must(t, err)
	t.Cleanup(b.Close)
	name := uniq("bf")
	ns := model.Named(name)
	must(t, b.Apply(model.NetnsAdd{Name: name}))
	first, err := b.Identity(ns)
	must(t, err)
	must(t, b.Apply(model.NetnsDel{Name: name}))
	if _, err := b.Links(ns); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("links of a deleted namespace: %v, want ErrNotFound", err)
	}
	if err := b.Apply(model.LinkAdd{Link: model.Link(ns, "x0"), Spec: model.Bridge{}}); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("a bridge in a deleted namespace: %v, want ErrNotFound", err)
	}
	if _, ok := testenv.Links(t, "")["x0"]; ok {
		t.Errorf("the bridge meant for the deleted namespace landed in the host")
	}
	must(t, b.Apply(model.NetnsAdd{Name: name}))
	t.Cleanup(func() { b.Apply(model.NetnsDel{Name: name}) })
	again, err := b.Identity(ns)
	must(t, err)
	if again == first {
		t.Errorf("the namespace made again has the identity of the deleted one")
	}
}

// A kill -9 in the middle of `ip netns add` leaves an empty file where the
// namespace was to be bound. Deleting the journalled namespace removes it,
// so `nsplay down` can finish; a file that is not empty is left alone.
func TestNetnsDelOfAnUnfinishedNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	b, err := kernel.NewBackend(model.DefaultPaths)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := os.MkdirAll(model.DefaultPaths.RunNetns, 0o755); err != nil {
		t.Fatal(err)
	}
	unfinished := filepath.Join(model.DefaultPaths.RunNetns, "cut-short")
	if err := os.WriteFile(unfinished, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(unfinished)
	if err := b.Apply(model.NetnsDel{Name: "cut-short"}); err != nil {
		t.Errorf("delete of an unfinished namespace: %v", err)
	}
	if _, err := os.Lstat(unfinished); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s is still there: %v", unfinished, err)
	}
	other := filepath.Join(model.DefaultPaths.RunNetns, "not-a-mount")
	if err := os.WriteFile(other, []byte("someone's file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(other)
	if err := b.Apply(model.NetnsDel{Name: "not-a-mount"}); err == nil || !strings.Contains(err.Error(), "not a namespace (not on nsfs)") {
		t.Errorf("delete of a file that is no namespace: %v", err)
	}
	if _, err := os.Lstat(other); err != nil {
		t.Errorf("%s was removed: %v", other, err)
	}
}
