package lab_test

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// TestQuietMLDTableInHost makes the lab's table of family bridge in the
// host, for a port of a bridge of the lab's, as quiet_ipv6 does: it needs
// no --allow-host, state() lists the port, a second make adopts it, and
// teardown, or nsplay down after a crash, deletes exactly that table.
func TestQuietMLDTableInHost(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	before := take(t)
	for _, crash := range []bool{false, true} {
		name := newLabName(t, b)
		l := openLab(t, name, b)
		table := model.LabTable(name)
		br, port := model.Link(model.Host, uniq("qbr")), model.Link(model.Host, uniq("qp"))
		do(t, l, model.LinkAdd{Link: br, Spec: model.Bridge{}})
		do(t, l, model.LinkAdd{Link: port, Spec: model.Veth{Peer: model.Link(model.Host, uniq("qh"))}})
		do(t, l, model.LinkSetMaster{Link: port, Master: br.Name})
		do(t, l, model.MLDQuiet{NS: model.Host, Table: table})
		do(t, l, model.MLDQuietPort{Port: port, Table: table})
		if res := do(t, l, model.MLDQuiet{NS: model.Host, Table: table}); !res.Adopted {
			t.Errorf("a second MLDQuiet in host made the table again: %+v", res)
		}
		if !slices.Contains(testenv.Nft(t, "").Tables, "bridge "+table) {
			t.Fatalf("no table bridge %s in host", table)
		}
		snap, err := l.Snapshot(&model.Host)
		must(t, err)
		if got := snap.Namespaces[0].QuietMLD; !slices.Equal(got, []string{port.Name}) {
			t.Errorf("state of host lists quiet_mld %v, want [%s]", got, port.Name)
		}
		reports := endLab(t, l, name, b, crash)
		if !slices.Contains(reports, "nft delete table bridge "+table) {
			t.Errorf("crash %v: teardown reported %q, without deleting table bridge %s", crash, reports, table)
		}
		before.machine.AssertUnchanged(t)
	}
}

// TestQuietMLDTableOfAnotherTool: a table of the lab's table's name that
// the lab did not make, also one without the lab's set, is the clash it is,
// and stays.
func TestQuietMLDTableOfAnotherTool(t *testing.T) {
	l, name, _ := newLab(t)
	table := model.LabTable(name)
	if out, err := exec.Command("nft", "add", "table", "bridge", table).CombinedOutput(); err != nil {
		t.Fatalf("nft add table bridge %s: %v\n%s", table, err, out)
	}
	t.Cleanup(func() { exec.Command("nft", "delete", "table", "bridge", table).Run() })
	_, err := l.Do(model.MLDQuiet{NS: model.Host, Table: table})
	if !errors.Is(err, lab.ErrNotOwned) || !strings.Contains(err.Error(), "table bridge "+table+" already exists in host and lab "+name+" did not create it") {
		t.Errorf("MLDQuiet over another tool's table: %v, want the clash", err)
	}
	if !slices.Contains(testenv.Nft(t, "").Tables, "bridge "+table) {
		t.Errorf("the other tool's table bridge %s is gone", table)
	}
	must(t, l.Teardown(func(string) {}))
}
