package main

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/builtins"
)

// TestHelpBuiltins reads the reference from the binary: the whole table,
// one entry, a handle's members, and an unknown name, which exits 2 and
// names the builtins it is close to.
func TestHelpBuiltins(t *testing.T) {
	stdout, stderr, code := run(t, "help", "builtins")
	if code != exitOK || stderr != "" {
		t.Fatalf("help builtins: status %d, stderr %q", code, stderr)
	}
	for _, e := range builtins.Reference() {
		if !strings.Contains(stdout, "  "+e.Signature+"\n      "+e.Summary+"\n") {
			t.Errorf("help builtins lacks %s:\n%s", e.Name, stdout)
		}
	}
	for topic, want := range map[string][]string{
		"bridge":           {"bridge(name, *, ns=host, stp=False, mtu=0) -> link\n\ncreate a bridge", "See docs/language.md#bridge.\n"},
		"link.set_up":      {"link.set_up() -> link\n"},
		"link":             {"The members of link:\n", "  link.set_master(bridge) -> link\n"},
		"expect":           {"  expect.reachable(ns, dst, *, timeout=\"2s\", msg=\"\") -> None\n"},
		"route":            {"route(ns, dst, *, via=None", "The members of route:\n", "  route.delete() -> None\n"},
		"expect.reachable": {"a failure says why"},
	} {
		stdout, stderr, code := run(t, "help", topic)
		for _, w := range want {
			if code != exitOK || !strings.Contains(stdout, w) {
				t.Errorf("help %s: status %d, stdout lacks %q:\n%s%s", topic, code, w, stdout, stderr)
			}
		}
	}
	for topic, want := range map[string]string{
		"brige":           `no help for "brige": no such command or builtin (did you mean bridge?)`,
		"set_up":          "(did you mean link.set_up, ",
		"expect.reachble": "did you mean expect.reachable?",
		"frobnicate":      `no help for "frobnicate": no such command or builtin; the commands are completion, down, exec, `,
	} {
		stdout, stderr, code := run(t, "help", topic)
		if code != exitError || stdout != "" || !strings.Contains(stderr, want) {
			t.Errorf("help %s: status %d, stdout %q, stderr %q; want status 2 and %q", topic, code, stdout, stderr, want)
		}
	}
	if err := helpTopic(io.Discard, "brige", nil); !errors.Is(err, errUnknownTopic) {
		t.Errorf("helpTopic of an unknown name: %v, want errUnknownTopic", err)
	}
}
