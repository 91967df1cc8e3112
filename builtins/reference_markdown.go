package builtins

import (
	"errors"
	"fmt"
	"strings"
)

// The markers around the generated table in docs/language.md.
const (
	ReferenceBegin = "<!-- begin: the table of builtins, generated from builtins/reference.go by `make docs`; do not edit -->"
	ReferenceEnd   = "<!-- end: the table of builtins -->"
)

// ReferenceMarkdown is the table of every entry, a table per group, each
// signature linked to its section of docs/language.md.
func ReferenceMarkdown() string {
	var b strings.Builder
	group := ""
	for _, e := range reference {
		if e.Group != group {
			if group != "" {
				b.WriteString("\n")
			}
			group = e.Group
			fmt.Fprintf(&b, "**%s**\n\n| Signature | What it does |\n|---|---|\n", group)
		}
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s |\n", cell(e.Signature), e.Section, cell(e.Summary))
	}
	return b.String()
}

// cell escapes what would end a table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// SpliceReference returns doc with what stands between its markers replaced
// by ReferenceMarkdown.
func SpliceReference(doc string) (string, error) {
	head, rest, ok := strings.Cut(doc, ReferenceBegin+"\n")
	_, tail, ok2 := strings.Cut(rest, ReferenceEnd)
	if !ok || !ok2 {
		return "", errors.New("the page lacks the markers of the table of builtins, each on a line of its own:\n" + ReferenceBegin + "\n" + ReferenceEnd)
	}
	return head + ReferenceBegin + "\n" + ReferenceMarkdown() + ReferenceEnd + tail, nil
}
