package builtins

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// notInReference are predeclared names that are no part of the language:
// the call that ordered comparisons are compiled to (compare.go).
var notInReference = []string{CompareName}

// statements are reference entries that are Starlark statements, not
// predeclared names.
var statements = []string{"load"}

// silent drops what a playbook reports: these tests read values.
type silent struct{}

func (silent) Step(syntax.Position, string)     {}
func (silent) Check(syntax.Position, Check)     {}
func (silent) Undecided(syntax.Position, Check) {}
func (silent) Result(syntax.Position, string)   {}

// inPlan runs src on the in-memory backend, as a plan does (no root, and
// nothing on the machine changes), and returns the predeclared names and
// the program's globals.
func inPlan(t *testing.T, src string) (predeclared, globals starlark.StringDict) {
	t.Helper()
	l, err := lab.Open("reference", model.NewMemory(model.Paths{}), model.Paths{}, "")
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{Lab: l, Ctx: context.Background(), Report: silent{}, Vars: map[string]string{}, UsedVars: map[string]bool{}}
	thread := &starlark.Thread{Name: t.Name()}
	SetEnv(thread, env)
	predeclared, err = Predeclared(env)
	if err != nil {
		t.Fatal(err)
	}
	globals, err = starlark.ExecFileOptions(&syntax.FileOptions{TopLevelControl: true}, thread, "reference.star", src, predeclared)
	if err != nil {
		t.Fatal(err)
	}
	return predeclared, globals
}

// handleKinds are the kinds of handle whose attributes have entries
// ("link.up"), each with a playbook line that makes one.
var handleKinds = map[string]string{
	"netns":   `netns("ref1")`,
	"link":    `veth("a", "b", ns = "ref1").set_up()`,
	"route":   `route("ref1", "10.9.0.0/16", dev = "a")`,
	"process": `spawn("ref1", ["sleep", "1"])`,
}

// liveHandles makes one handle of each kind, by its kind.
func liveHandles(t *testing.T) (predeclared starlark.StringDict, handles map[string]starlark.HasAttrs) {
	t.Helper()
	var src strings.Builder
	for _, kind := range []string{"netns", "link", "route", "process"} {
		src.WriteString("h_" + kind + " = " + handleKinds[kind] + "\n")
	}
	predeclared, globals := inPlan(t, src.String())
	handles = map[string]starlark.HasAttrs{}
	for kind := range handleKinds {
		handles[kind] = globals["h_"+kind].(starlark.HasAttrs)
	}
	return predeclared, handles
}

// realNames are the names a playbook can use, as the builtins define them:
// the predeclared names, expect's members and every handle's attributes.
func realNames(t *testing.T) []string {
	t.Helper()
	predeclared, handles := liveHandles(t)
	var names []string
	for name := range predeclared {
		if !slices.Contains(notInReference, name) && name != "expect" {
			names = append(names, name)
		}
	}
	for member := range expectModule.Members {
		names = append(names, "expect."+member)
	}
	for kind, v := range handles {
		for _, attr := range v.AttrNames() {
			names = append(names, kind+"."+attr)
		}
	}
	return append(names, statements...)
}

// TestReferenceCoversTheBuiltins holds the reference to the builtins: every
// name a playbook can use has an entry, every entry is such a name, and
// each has a signature, one line and a section of docs/language.md.
func TestReferenceCoversTheBuiltins(t *testing.T) {
	real := realNames(t)
	var entries []string
	for _, e := range Reference() {
		if slices.Contains(entries, e.Name) {
			t.Errorf("%s has two entries", e.Name)
		}
		entries = append(entries, e.Name)
		if !strings.HasPrefix(e.Signature, e.Name) || e.Summary == "" || strings.Contains(e.Summary, "\n") || e.Group == "" || e.Section == "" {
			t.Errorf("entry %s: want a signature that starts with its name, one line of summary, a group and a section: %+v", e.Name, e)
		}
		if !slices.Contains(real, e.Name) {
			t.Errorf("the reference has %s, which no builtin, handle or statement is", e.Name)
		}
	}
	for _, name := range real {
		if !slices.Contains(entries, name) {
			t.Errorf("%s has no entry in the reference (builtins/reference.go)", name)
		}
	}
}

// TestHandlesHaveTheirAttrNames reads every handle entry of the reference
// on a live handle: each one is an attribute the handle has, so that
// AttrNames (what dir() lists, and what the reference is checked against)
// leaves out none.
func TestHandlesHaveTheirAttrNames(t *testing.T) {
	_, handles := liveHandles(t)
	for _, e := range Reference() {
		kind, attr, ok := strings.Cut(e.Name, ".")
		handle, isHandle := handles[kind]
		if !ok || !isHandle {
			continue
		}
		if v, err := handle.Attr(attr); err != nil || v == nil {
			t.Errorf("%s of %s: %v, %v; want the attribute", attr, handle, v, err)
		}
	}
}

// designBuiltins are the signatures of DESIGN.md, "The playbook language
// (the contract)", one call a line. DESIGN writes `fail(msg), print(...)`
// for calls that take any arguments: they keep no spelling, written "...".
var designBuiltins = []string{
	`host`,
	`netns(name) / netns(pid=N) / netns(path=P)`,
	`bridge(name, *, ns=host, stp=False, mtu=0) -> link`,
	`veth(name, peer, *, ns=host, peer_ns=None) -> link`,
	`route(ns, dst, *, via=None, dev=None, metric=0, table="main") -> route`,
	`resolv_conf(ns, nameservers, *, search=[])`,
	`exec_in(target, cmd, *, check=True, timeout="30s", env={}, stdin="", new=[], hostname=None)`,
	`spawn(target, cmd, *, new=[], hostname=None, env={}, stdin="") -> process`,
	`netns_list()`,
	`netns_identify(pid)`,
	`ping(ns, dst, *, count=1, timeout="1s") -> struct(sent, received, rtt_ms)`,
	`expect.eq(got, want, msg="")`,
	`expect.ne(...)`,
	`expect.true(...)`,
	`expect.false(...)`,
	`expect.contains(container, item, ...)`,
	`expect.reachable(ns, dst, *, timeout="2s")`,
	`expect.unreachable(ns, dst, *, timeout="1s")`,
	`expect.listening(ns, port, ...)`,
	`expect.connects(ns, addr, port, ...)`,
	`state(ns=None) -> dict`,
	`var(name, default)`,
	`fail(...)`,
	`print(...)`,
	`load("lib/x.star", "sym")`,
	`sysctl(ns, key, value)`,
	`netns.sysctl(key) -> string`,
	`macvlan(name, link, *, ns=None, mode="bridge") -> link`,
	`vlan(name, link, id, *, ns=None) -> link`,
	`vxlan(name, vni, *, ns=host, local=None, remote=None, group=None, dev=None, port=4789) -> link`,
	`tuntap(name, *, ns=host, mode="tap") -> link`,
	`dummy(name, *, ns=host) -> link`,
	`link.impair(*, rate=None, delay=None, jitter=None, loss=0.0, duplicate=0.0, corrupt=0.0, reorder=0.0, limit=0)`,
	`link.impairments -> dict`,
	`link.clear_impairments()`,
	`nat(ns, out, *, src=None)`,
	`port_forward(ns, port, to, *, proto="tcp", dev=None)`,
	`throughput(src, dst, *, to=None, duration="1s", port=5201) -> struct(mbps, bytes, seconds)`,
	`expect.all_reachable(pairs, *, timeout="2s")`,
}

// designHandles are DESIGN.md's lines of handle attributes. Their argument
// names are placeholders (`.set_id(n)`): what they keep is the attribute and
// how many arguments it takes by position.
var designHandles = map[string]string{
	"netns":   `.name .path .owned .id .link(name) .links() .routes() .pids() .exec(...) .set_id(n) .delete() .sysctl(key)`,
	"link":    `.name .ns .index .kind .up .oper .carrier .mac .mtu .master .addrs .peer .stp .ports .set_up() .set_down() .add_addr(cidr) .del_addr(cidr) .set_master(br) .set_nomaster() .move(ns) .rename(name) .set_mtu(n) .delete() .impair(...) .impairments .clear_impairments()`,
	"route":   `.dst .via .dev .metric .table .proto .scope .delete()`,
	"process": `.pid .alive .ns(kind) .wait(timeout) .kill(signal)`,
}

// signature is a signature taken apart: name(params) -> ret.
type signature struct {
	name   string
	call   bool
	params []string
	ret    string
}

// parseSignature takes apart one call such as `ping(ns, dst, *, count=1) ->
// struct(sent)`, splitting the parameters at the commas outside brackets
// and quotes.
func parseSignature(s string) signature {
	var sig signature
	if head, ret, ok := strings.Cut(s, " -> "); ok {
		s, sig.ret = head, ret
	}
	open := strings.IndexByte(s, '(')
	if open < 0 {
		sig.name = strings.TrimSpace(s)
		return sig
	}
	sig.name, sig.call = s[:open], true
	inner := strings.TrimSuffix(s[open+1:], ")")
	depth, quoted, start := 0, false, 0
	for i, c := range inner {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			depth--
		case c == ',' && depth == 0:
			sig.params = append(sig.params, strings.TrimSpace(inner[start:i]))
			start = i + 1
		}
	}
	if p := strings.TrimSpace(inner[start:]); p != "" {
		sig.params = append(sig.params, p)
	}
	return sig
}

// keeps says whether the entry's parameters keep DESIGN's: each of them,
// in order, spelled the same; "..." stands for any that follow.
func keeps(entry, design []string) bool {
	i := 0
	for _, p := range design {
		if p == "..." {
			return true
		}
		for i < len(entry) && entry[i] != p {
			i++
		}
		if i == len(entry) {
			return false
		}
		i++
	}
	return true
}

// positional counts the parameters that may be given by position.
func positional(params []string) int {
	n := 0
	for _, p := range params {
		if p == "*" || strings.HasPrefix(p, "*") {
			break
		}
		n++
	}
	return n
}

// TestReferenceKeepsTheDesign holds the reference to the contract in
// DESIGN.md: every name there has an entry, whose signature keeps its
// parameters, their spelling, whether they are keyword-only, and what it
// returns.
func TestReferenceKeepsTheDesign(t *testing.T) {
	for _, want := range designBuiltins {
		d := parseSignature(want)
		e, ok := Lookup(d.name)
		if !ok {
			t.Errorf("DESIGN.md has %s; the reference has no entry %s", want, d.name)
			continue
		}
		if strings.Contains(e.Signature, strings.TrimSuffix(want, " -> "+d.ret)) {
			continue // netns's three forms, and every signature written alike
		}
		got := parseSignature(e.Signature)
		if got.call != d.call || !keeps(got.params, d.params) || (d.ret != "" && got.ret != d.ret) {
			t.Errorf("the reference's %s does not keep DESIGN.md's %s", e.Signature, want)
		}
	}
	for kind, line := range designHandles {
		for _, attr := range strings.Fields(line) {
			d := parseSignature(kind + attr)
			e, ok := Lookup(d.name)
			if !ok {
				t.Errorf("DESIGN.md gives the %s handle %s; the reference has no entry %s", kind, attr, d.name)
				continue
			}
			got := parseSignature(e.Signature)
			if got.call != d.call || (!slices.Contains(d.params, "...") && positional(got.params) != positional(d.params)) {
				t.Errorf("the reference's %s does not keep DESIGN.md's %s%s", e.Signature, kind, attr)
			}
		}
	}
}

// TestLanguagePageHasTheReference holds the table of builtins in
// docs/language.md to what the reference makes now.
func TestLanguagePageHasTheReference(t *testing.T) {
	doc, err := os.ReadFile("../docs/language.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := SpliceReference(string(doc))
	if err != nil {
		t.Fatal(err)
	}
	if want != string(doc) {
		t.Errorf("the table of builtins in docs/language.md is not what builtins/reference.go makes: run `make docs`")
	}
}
