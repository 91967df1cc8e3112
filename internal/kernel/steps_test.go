package kernel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// Within a step the backend takes a link's index from what the step read,
// but never after the link was renamed, by the step itself or by a
// command it ran: a change to the old name is then refused, and does not
// land on the renamed link.
func TestStepForgetsIndexesOfRenamedLinks(t *testing.T) {
	testenv.RequireRoot(t)
	b, name := withBridgeA0(t)
	ns := model.Named(name)

	for _, rename := range []struct {
		how string
		do  func(from, to string) error
	}{
		{"by the step", func(from, to string) error {
			return b.Apply(model.LinkRename{Link: model.Link(ns, from), To: to})
		}},
		{"by a command", func(from, to string) error {
			res, err := b.Exec(context.Background(), model.ExecSpec{NS: ns, Argv: []string{"ip", "link", "set", from, "name", to}})
			if err == nil && res.RC != 0 {
				t.Fatalf("ip link set %s name %s: %s", from, to, res.Stderr)
			}
			return err
		}},
	} {
		end := b.Step()
		_, err := b.Link(model.Link(ns, "a0")) // the step reads a0's index
		must(t, err)
		must(t, rename.do("a0", "b0"))
		err = b.Apply(model.AddrAdd{Link: model.Link(ns, "a0"), CIDR: "10.62.0.1/24"})
		if !errors.Is(err, model.ErrNotFound) {
			t.Errorf("renamed %s, an address added to the old name: %v, want ErrNotFound", rename.how, err)
		}
		addrs, err := b.Addrs(model.Link(ns, "b0"))
		must(t, err)
		if len(addrs) != 0 {
			t.Errorf("renamed %s, the address meant for the old name landed on the renamed link: %+v", rename.how, addrs)
		}
		end()
		must(t, b.Apply(model.LinkRename{Link: model.Link(ns, "b0"), To: "a0"}))
	}
}

// Outside a step, and in a step after another, a link is read anew: a
// rename made between steps by another program is seen.
func TestStepsDoNotOutliveThemselves(t *testing.T) {
	testenv.RequireRoot(t)
	b, name := withBridgeA0(t)
	ns := model.Named(name)

	end := b.Step()
	_, err := b.Link(model.Link(ns, "a0"))
	must(t, err)
	end()
	testenv.IP(t, "-n", name, "link", "set", "a0", "name", "b0") // another program, between steps
	defer b.Step()()
	if err := b.Apply(model.AddrAdd{Link: model.Link(ns, "a0"), CIDR: "10.62.1.1/24"}); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("an address added to a0 after another program renamed it: %v, want ErrNotFound", err)
	}
}

// withBridgeA0 opens a backend and makes a namespace with a bridge a0 in
// it, both gone when the test ends.
func withBridgeA0(t *testing.T) (*kernel.Backend, string) {
	t.Helper()
	b, err := kernel.NewBackend(model.DefaultPaths)
	must(t, err)
	t.Cleanup(b.Close)
	name := uniq("st")
	must(t, b.Apply(model.NetnsAdd{Name: name}))
	t.Cleanup(func() { b.Apply(model.NetnsDel{Name: name}) })
	must(t, b.Apply(model.LinkAdd{Link: model.Link(model.Named(name), "a0"), Spec: model.Bridge{}}))
	return b, name
}

// The wait for the veth ends a deleted namespace takes along looks at them
// while they go: a link made next under such a name, in the same step, is
// changed at its own index, not the gone one's.
func TestStepForgetsTheEndsADeletionTookAlong(t *testing.T) {
	testenv.RequireRoot(t)
	b, name := withBridgeA0(t)
	out := uniq("sto")
	t.Cleanup(func() { b.Apply(model.LinkDel{Link: model.Link(model.Host, out)}) })
	must(t, b.Apply(model.LinkAdd{Link: model.Link(model.Host, out), Spec: model.Veth{Peer: model.Link(model.Named(name), "eth0")}}))
	defer b.Step()()
	must(t, b.Apply(model.NetnsDel{Name: name, Along: []model.LinkRef{model.Link(model.Host, out)}}))
	must(t, b.Apply(model.NetnsAdd{Name: name}))
	must(t, b.Apply(model.LinkAdd{Link: model.Link(model.Host, out), Spec: model.Veth{Peer: model.Link(model.Named(name), "eth0")}}))
	must(t, b.Apply(model.AddrAdd{Link: model.Link(model.Host, out), CIDR: "10.62.2.1/24"}))
	addrs, err := b.Addrs(model.Link(model.Host, out))
	must(t, err)
	if len(addrs) != 1 || addrs[0].CIDR != "10.62.2.1/24" {
		t.Errorf("addresses of the new %s: %+v, want 10.62.2.1/24", out, addrs)
	}
}

// Within a step a namespace's name is looked at once: another program's
// `ip netns del` in the middle of the step is not seen, as a rename of a
// link is not, also past the time a look is trusted outside steps. The
// next step looks again and finds the namespace gone.
func TestStepLooksAtANamespaceNameOnce(t *testing.T) {
	testenv.RequireRoot(t)
	b, name := withBridgeA0(t)
	ns := model.Named(name)

	time.Sleep(5 * time.Millisecond) // so that the step's first read looks
	end := b.Step()
	_, err := b.Link(model.Link(ns, "a0"))
	must(t, err)
	testenv.IP(t, "netns", "del", name) // another program, in the middle of the step
	time.Sleep(5 * time.Millisecond)    // past the trust of a look outside a step
	if _, err := b.Link(model.Link(ns, "a0")); err != nil {
		t.Errorf("a0 read again in the same step: %v, want the step's namespace", err)
	}
	end()
	defer b.Step()()
	if _, err := b.Link(model.Link(ns, "a0")); !errors.Is(err, model.ErrNotFound) && !errors.Is(err, kernel.ErrGone) {
		t.Errorf("a0 read in the next step, after ip netns del %s: %v, want the namespace gone", name, err)
	}
}
