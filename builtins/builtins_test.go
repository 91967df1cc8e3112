package builtins_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nsplay/nsplay/builtins"
	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// nopReporter drops steps and checks: these tests read values directly.
type nopReporter struct{}

func (nopReporter) Step(syntax.Position, string)              {}
func (nopReporter) Check(syntax.Position, builtins.Check)     {}
func (nopReporter) Undecided(syntax.Position, builtins.Check) {}
func (nopReporter) Result(syntax.Position, string)            {}

// exec runs a Starlark program with the builtins against a fresh lab that
// is torn down when the test ends, and returns its globals.
func exec(t *testing.T, src string) starlark.StringDict {
	t.Helper()
	b, err := kernel.NewBackend(model.DefaultPaths)
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Open(t.Name(), b, model.DefaultPaths, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Teardown(func(string) {}); err != nil {
			t.Error(err)
		}
		b.Close()
	})
	env := &builtins.Env{Lab: l, Ctx: context.Background(), Report: nopReporter{}, Vars: map[string]string{}, UsedVars: map[string]bool{}}
	thread := &starlark.Thread{Name: t.Name()}
	builtins.SetEnv(thread, env)
	predeclared, err := builtins.Predeclared(env)
	if err != nil {
		t.Fatal(err)
	}
	globals, err := starlark.ExecFileOptions(&syntax.FileOptions{TopLevelControl: true}, thread, "test.star", src, predeclared)
	if err != nil {
		if e, ok := err.(*starlark.EvalError); ok {
			t.Fatal(e.Backtrace())
		}
		t.Fatal(err)
	}
	return globals
}

// linkView is what both a link handle and `ip -j -d link` tell of a link.
type linkView struct {
	Name, Kind, MAC, Master, Oper string
	MTU                           int
	Up, Carrier                   bool
	STP                           *int
}

// TestLinkAttrsAgreeWithIP compares every link handle attribute of a small
// lab with what ip reports for the same links.
func TestLinkAttrsAgreeWithIP(t *testing.T) {
	testenv.RequireRoot(t)
	g := exec(t, `
ns = netns("agree1")
br = bridge("agbr0", ns = ns, stp = True, mtu = 1450).set_up()
a = veth("ag0", "ag1", ns = ns).set_up()
a.peer.set_master(br).set_up()
b = veth("ag2", "ag3", ns = ns)
b.set_up()
a.add_addr("10.5.0.1/24")
views = []
for l in ns.links():
    views.append({
        "name": l.name, "kind": l.kind, "mac": l.mac, "master": l.master or "", "oper": l.oper,
        "mtu": l.mtu, "up": l.up, "carrier": l.carrier, "stp": l.stp,
    })
`)
	var got []linkView
	for v := range g["views"].(*starlark.List).Elements() {
		d := v.(*starlark.Dict)
		get := func(k string) starlark.Value { x, _, _ := d.Get(starlark.String(k)); return x }
		str := func(k string) string { s, _ := starlark.AsString(get(k)); return s }
		mtu, _ := starlark.AsInt32(get("mtu"))
		view := linkView{Name: str("name"), Kind: str("kind"), MAC: str("mac"), Master: str("master"), Oper: str("oper"),
			MTU: mtu, Up: bool(get("up").Truth()), Carrier: bool(get("carrier").Truth())}
		if stp, ok := get("stp").(starlark.Bool); ok {
			n := map[bool]int{false: 0, true: 1}[bool(stp)]
			view.STP = &n
		}
		got = append(got, view)
	}

	var want []linkView
	for _, l := range testenv.Links(t, "agree1") {
		kind := l.LinkInfo.Kind
		if kind == "" && l.Name == "lo" {
			kind = "loopback"
		}
		want = append(want, linkView{Name: l.Name, Kind: kind, MAC: l.Address, Master: l.Master,
			Oper: strings.ToLower(l.OperState), MTU: l.MTU, Up: slices.Contains(l.Flags, "UP"),
			Carrier: slices.Contains(l.Flags, "LOWER_UP"), STP: l.LinkInfo.Data.STPState})
	}
	byName := func(a, b linkView) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(got, byName)
	slices.SortFunc(want, byName)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("link attributes differ from ip -j -d link (-ip +nsplay):\n%s", diff)
	}
}
