package main

import (
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/model"
)

// TestGraphShowsEmptyNamespacesAndEscapes draws a namespace that has only
// lo (Graphviz hides an empty cluster) and a label Mermaid would read as
// HTML.
func TestGraphShowsEmptyNamespacesAndEscapes(t *testing.T) {
	snap := model.Snapshot{Namespaces: []model.NSState{
		{Name: "host"},
		{Name: "a&b", Owned: true, Links: []model.LinkState{{Name: "lo", Kind: "loopback"}, {Name: "x<y>", Kind: "dummy"}}},
	}}
	var dot, mermaid strings.Builder
	drawDOT(&dot, "lab", snap)
	drawMermaid(&mermaid, "lab", snap)
	for _, want := range []string{"\t\tempty_0 [label=\"(no links)\", shape=plaintext];\n"} {
		if !strings.Contains(dot.String(), want) {
			t.Errorf("dot lacks %q:\n%s", want, dot.String())
		}
	}
	for _, want := range []string{"    empty_0[\"(no links)\"]\n", `subgraph s1["a#amp;b (created by the lab)"]`, `n0["x#lt;y#gt;<br/>dummy"]`} {
		if !strings.Contains(mermaid.String(), want) {
			t.Errorf("mermaid lacks %q:\n%s", want, mermaid.String())
		}
	}
}
