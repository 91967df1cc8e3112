package lab_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// NAT rules in a namespace the lab created are listed while it is up, and
// go with the namespace.
func TestNATInLabNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	before := take(t)
	name := newLabName(t, b)
	l := openLab(t, name, b)
	ns := uniq("gw")
	do(t, l, model.NetnsAdd{Name: ns})
	table := model.LabTable(name)
	masq := model.Masquerade{NS: model.Named(ns), Table: table, Out: "wan"}
	fwd := model.PortForward{NS: model.Named(ns), Table: table, Proto: "udp", Port: 53, To: "10.1.0.2:53"}
	do(t, l, masq)
	do(t, l, fwd)
	if res := do(t, l, masq); !res.Adopted {
		t.Errorf("the same rule again was not adopted: %+v", res)
	}
	if rs := testenv.Nft(t, ns); !slices.Equal(rs.Tables, []string{"inet " + table}) || len(rs.Rules) != 2 {
		t.Errorf("nft in %s: %+v, want table inet %s with 2 rules", ns, rs, table)
	}
	snap, err := l.Snapshot(nil)
	must(t, err)
	i := slices.IndexFunc(snap.Namespaces, func(s model.NSState) bool { return s.Name == ns })
	if want := []string{fwd.Rule(), masq.Rule()}; i < 0 || !slices.Equal(snap.Namespaces[i].NAT, want) {
		t.Errorf("snapshot %+v, want %s with rules %q", snap.Namespaces, ns, want)
	}
	var reports []string
	must(t, l.Teardown(func(s string) { reports = append(reports, s) }))
	if slices.ContainsFunc(reports, func(s string) bool { return strings.Contains(s, "nft") }) {
		t.Errorf("teardown deleted a table of a namespace it deleted: %q", reports)
	}
	before.machine.AssertUnchanged(t)
}

// In the host, NAT needs --allow-host; teardown, and down after a crash,
// delete exactly the lab's table.
func TestNATInHost(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	before := take(t)
	for _, crash := range []bool{false, true} {
		name := newLabName(t, b)
		l := openLab(t, name, b)
		table := model.LabTable(name)
		masq := model.Masquerade{NS: model.Host, Table: table, Out: "eth9", Src: "10.1.0.0/24"}
		if _, err := l.Do(masq); !errors.Is(err, lab.ErrNotOwned) || !strings.Contains(err.Error(), "--allow-host") {
			t.Errorf("NAT in host without --allow-host: %v", err)
		}
		if slices.Contains(testenv.Nft(t, "").Tables, "inet "+table) {
			t.Fatalf("the refused rule made table %s", table)
		}
		l.AllowHost = true
		do(t, l, masq)
		do(t, l, model.PortForward{NS: model.Host, Table: table, Proto: "tcp", Port: 2222, To: "10.1.0.2:22"})
		if !slices.Contains(testenv.Nft(t, "").Tables, "inet "+table) {
			t.Fatalf("no table %s in host", table)
		}
		reports := endLab(t, l, name, b, crash)
		if want := []string{"nft delete table inet " + table}; !slices.Equal(reports, want) {
			t.Errorf("crash %v: teardown reported %q, want %q", crash, reports, want)
		}
		before.machine.AssertUnchanged(t)
	}
}
