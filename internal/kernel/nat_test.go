package kernel_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// The rules go into the lab's table, in chains nft lists as nat hooks, with
// the expressions nft would make of their text; deleting the table takes
// them all, and leaves another tool's table alone.
func TestNATRules(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	testenv.IP(t, "netns", "exec", ns.Name, "nft", "add table inet other; add chain inet other c { type filter hook input priority 0; }; add rule inet other c accept")
	ref, table := model.Named(ns.Name), model.LabTable("kt")
	masq := model.Masquerade{NS: ref, Table: table, Out: "eth1", Src: "10.1.0.0/24"}
	forward := model.PortForward{NS: ref, Table: table, Proto: "tcp", Port: 8080, To: "10.1.0.2:80", Dev: "eth1"}
	for _, r := range []model.NATRule{masq, forward} {
		must(t, ns.AddNATRule(r))
	}
	rs := testenv.Nft(t, ns.Name)
	if !slices.Contains(rs.Tables, "inet "+table) || !slices.Contains(rs.Tables, "inet other") {
		t.Errorf("tables %v, want inet %s and inet other", rs.Tables, table)
	}
	for _, want := range []testenv.NftChain{
		{Family: "inet", Table: table, Name: "prerouting", Type: "nat", Hook: "prerouting", Prio: -100},
		{Family: "inet", Table: table, Name: "postrouting", Type: "nat", Hook: "postrouting", Prio: 100},
	} {
		if !slices.Contains(rs.Chains, want) {
			t.Errorf("chains %+v lack %+v", rs.Chains, want)
		}
	}
	exprs := map[string][]string{
		masq.Rule(): {`{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"eth1"}}`,
			`{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":{"prefix":{"addr":"10.1.0.0","len":24}}}}`,
			`{"masquerade":null}`},
		forward.Rule(): {`{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"eth1"}}`,
			`{"match":{"op":"==","left":{"fib":{"result":"type","flags":["daddr"]}},"right":"local"}}`,
			`{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":8080}}`,
			`{"dnat":{"family":"ip","addr":"10.1.0.2","port":80}}`},
	}
	for _, r := range rs.Rules {
		if r.Table != table {
			continue
		}
		want, ok := exprs[r.Comment]
		if !ok {
			t.Errorf("a rule with comment %q", r.Comment)
			continue
		}
		delete(exprs, r.Comment)
		var got []string
		for _, e := range r.Expr {
			var b bytes.Buffer
			must(t, json.Compact(&b, e))
			got = append(got, b.String())
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("rule %q: expressions\n%s\nlack %s", r.Comment, strings.Join(got, "\n"), w)
			}
		}
	}
	if len(exprs) > 0 {
		t.Errorf("nft lists no rule with the comments %v", exprs)
	}
	rules, err := ns.NATRules(table)
	if want := []string{forward.Rule(), masq.Rule()}; err != nil || !slices.Equal(rules, want) {
		t.Errorf("NATRules = %q, %v; want %q", rules, err, want)
	}

	must(t, ns.DeleteNATTable(table))
	if rs := testenv.Nft(t, ns.Name); !slices.Equal(rs.Tables, []string{"inet other"}) || len(rs.Rules) != 1 {
		t.Errorf("after the table was deleted: %+v, want only the other tool's table and rule", rs)
	}
	if err := ns.DeleteNATTable(table); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("deleting the table twice: %v, want ErrNotFound", err)
	}
	if _, err := ns.NATRules(table); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("NATRules of no table: %v, want ErrNotFound", err)
	}
}
