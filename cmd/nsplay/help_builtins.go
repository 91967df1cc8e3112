package main

// `nsplay help builtins` and `nsplay help NAME`: the reference of the
// playbook language, from the binary (builtins/reference.go), for users who
// have nsplay and not its documentation.

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/nsplay/nsplay/builtins"
)

// errUnknownTopic is a help topic that is no builtin: `nsplay help NAME`
// then exits 2.
var errUnknownTopic = errors.New("no such command or builtin")

// helpTopic prints the reference of topic: "builtins" for all of it, a name
// such as "bridge" or "link.set_up" for one entry, and a kind of handle
// ("link", "netns", "route", "process") or "expect" for its members too.
// An unknown topic is an error that wraps errUnknownTopic and names the
// closest names and the commands.
func helpTopic(w io.Writer, topic string, commands []string) error {
	if topic == "builtins" {
		printReference(w)
		return nil
	}
	members := membersOf(topic)
	e, ok := builtins.Lookup(topic)
	if !ok && len(members) == 0 {
		hint := ""
		if close := closeNames(topic); len(close) > 0 {
			hint = " (did you mean " + strings.Join(close, ", ") + "?)"
		}
		return fmt.Errorf("no help for %q: %w%s; the commands are %s, and 'nsplay help builtins' lists the builtins", topic, errUnknownTopic, hint, strings.Join(commands, ", "))
	}
	if ok {
		fmt.Fprintf(w, "%s\n\n%s\n", e.Signature, e.Summary)
		if e.Doc != "" {
			fmt.Fprintf(w, "\n%s\n", e.Doc)
		}
		fmt.Fprintf(w, "\nSee docs/language.md#%s.\n", e.Section)
	}
	if len(members) > 0 {
		if ok {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "The members of %s:\n", topic)
		for _, m := range members {
			printEntry(w, m)
		}
	}
	return nil
}

// printReference prints every entry, by group.
func printReference(w io.Writer) {
	fmt.Fprint(w, "The playbook language: every builtin, and the attributes and methods of its handles.\n"+
		"Arguments after * are keyword-only. 'nsplay help NAME' explains one (bridge, link.set_up).\n")
	group := ""
	for _, e := range builtins.Reference() {
		if e.Group != group {
			group = e.Group
			fmt.Fprintf(w, "\n%s:\n", group)
		}
		printEntry(w, e)
	}
}

func printEntry(w io.Writer, e builtins.Entry) {
	fmt.Fprintf(w, "  %s\n      %s\n", e.Signature, e.Summary)
}

// membersOf returns the entries of a handle's or module's members: those
// named topic + "." + attribute.
func membersOf(topic string) []builtins.Entry {
	var members []builtins.Entry
	for _, e := range builtins.Reference() {
		if strings.HasPrefix(e.Name, topic+".") {
			members = append(members, e)
		}
	}
	return members
}

// closeNames returns the entry names that topic may have meant: a letter
// or two off (one in a short name), or an attribute of a handle.
func closeNames(topic string) []string {
	off := min(2, max(1, len(topic)/3))
	var close []string
	for _, e := range builtins.Reference() {
		_, attr, _ := strings.Cut(e.Name, ".")
		if editDistance(topic, e.Name) <= off || (attr != "" && editDistance(topic, attr) <= off) {
			close = append(close, e.Name)
		}
	}
	slices.Sort(close)
	return slices.Compact(close)
}

// editDistance is the Levenshtein distance of a and b, by bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
