package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/session"
	"github.com/spf13/cobra"
)

func (c *cli) graphCommand() *cobra.Command {
	var format string
	var lib []string
	cmd := c.command("graph [--format dot|mermaid] PLAYBOOK|LAB", "draw the lab of a playbook (from the model) or of a lab that is up", `Draws a lab: its namespaces as clusters, its links with their kinds and
addresses as nodes, veth pairs and bridge ports as edges (loopback links are
left out). Given a playbook (a file), it draws the lab the playbook builds,
from nsplay's model, as 'nsplay plan' does: no root, nothing changes. Given
the name of a lab that is up, it draws that lab from the kernel (root).

The output is Graphviz DOT by default (nsplay graph lab.star | dot -Tsvg
> lab.svg), or a Mermaid flowchart with --format mermaid, which GitHub and
many Markdown viewers draw.`,
		takes(one, "graph takes one playbook or the name of one lab, e.g. nsplay graph playbooks/lxcbr0.star"),
		noStatus(func(args []string) error { return graphCmd(format, lib, args[0], c.stdout) }))
	cmd.Flags().StringVar(&format, "format", "dot", "`dot` or mermaid")
	cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"dot", "mermaid"}, cobra.ShellCompDirectiveNoFileComp))
	libFlag(cmd, &lib)
	cmd.ValidArgsFunction = playbookArg
	return cmd
}

func graphCmd(format string, libs []string, arg string, stdout io.Writer) error {
	draw := map[string]func(io.Writer, string, model.Snapshot){"dot": drawDOT, "mermaid": drawMermaid}[format]
	if draw == nil {
		return usageError{fmt.Sprintf("graph: --format %q: use dot or mermaid", format)}
	}
	lib, err := libraryPath(libs)
	if err != nil {
		return err
	}
	snap, err := graphSnapshot(arg, lib)
	if err != nil {
		return err
	}
	draw(stdout, arg, snap)
	return nil
}

// graphSnapshot is the state to draw: a playbook's lab from the model, or
// a lab that is up from the kernel.
func graphSnapshot(arg string, lib []string) (model.Snapshot, error) {
	if st, err := os.Stat(arg); err == nil && !st.IsDir() {
		res, err := session.Run(session.Options{Playbook: arg, Plan: true, Paths: session.PlanPaths(), Snapshot: true, Lib: lib})
		if err != nil {
			return model.Snapshot{}, err
		}
		if err := errors.Join(res.RunErr, res.DownErr); err != nil {
			return model.Snapshot{}, fmt.Errorf("the plan of %s stopped, so it cannot be drawn: %w", arg, err)
		}
		return res.Snapshot, nil
	}
	if os.Geteuid() != 0 {
		return model.Snapshot{}, fmt.Errorf("%s is no playbook file, and drawing a lab that is up needs root: run it with sudo", arg)
	}
	b, err := kernel.NewBackend(model.DefaultPaths)
	if err != nil {
		return model.Snapshot{}, err
	}
	defer b.Close()
	l, err := lab.Inspect(arg, b, model.DefaultPaths)
	if err != nil {
		return model.Snapshot{}, fmt.Errorf("%s is neither a playbook file nor a lab that is up: %w", arg, err)
	}
	return snapshotHere(l, "graph")
}

// graphNode is a link to draw, and the edges that leave it.
type graphNode struct {
	id, label string
	edges     []graphEdge
}

type graphEdge struct{ to, label string }

// graphOf lays a snapshot out as clusters of nodes and the edges between
// them: each veth pair once, each bridge port to its bridge.
func graphOf(snap model.Snapshot) (clusters []string, nodes [][]graphNode) {
	ids := map[string]string{} // "ns/link" -> node id
	key := func(ns, link string) string { return ns + "/" + link }
	for _, ns := range snap.Namespaces {
		for _, l := range ns.Links {
			if l.Kind != "loopback" {
				ids[key(ns.Name, l.Name)] = fmt.Sprintf("n%d", len(ids))
			}
		}
	}
	drawn := map[string]bool{}
	for _, ns := range snap.Namespaces {
		var here []graphNode
		for _, l := range ns.Links {
			id, ok := ids[key(ns.Name, l.Name)]
			if !ok {
				continue
			}
			lines := []string{l.Name, l.Kind}
			for _, a := range l.Addrs {
				lines = append(lines, a.CIDR)
			}
			n := graphNode{id: id, label: strings.Join(lines, "\n")}
			if peer, ok := ids[key(l.PeerNS, l.Peer)]; ok && !drawn[peer] {
				n.edges = append(n.edges, graphEdge{peer, "veth"})
			}
			if master, ok := ids[key(ns.Name, l.Master)]; ok {
				n.edges = append(n.edges, graphEdge{master, "port"})
			}
			drawn[id] = true
			here = append(here, n)
		}
		label := ns.Name
		if ns.Owned {
			label += " (created by the lab)"
		}
		clusters, nodes = append(clusters, label), append(nodes, here)
	}
	return clusters, nodes
}

// noLinks stands in a namespace that has no link but lo.
const noLinks = "(no links)"

func drawDOT(w io.Writer, name string, snap model.Snapshot) {
	clusters, nodes := graphOf(snap)
	quote := func(s string) string {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
	}
	fmt.Fprintf(w, "graph %s {\n\tnode [shape=box, fontname=monospace];\n", quote(name))
	for i, c := range clusters {
		fmt.Fprintf(w, "\tsubgraph cluster_%d {\n\t\tlabel=%s;\n", i, quote(c))
		for _, n := range nodes[i] {
			fmt.Fprintf(w, "\t\t%s [label=%s];\n", n.id, quote(n.label))
		}
		if len(nodes[i]) == 0 {
			// Graphviz does not draw an empty cluster: a namespace with
			// only lo would vanish from the picture.
			fmt.Fprintf(w, "\t\tempty_%d [label=%s, shape=plaintext];\n", i, quote(noLinks))
		}
		fmt.Fprintln(w, "\t}")
	}
	for _, here := range nodes {
		for _, n := range here {
			for _, e := range n.edges {
				fmt.Fprintf(w, "\t%s -- %s [label=%s];\n", n.id, e.to, quote(e.label))
			}
		}
	}
	fmt.Fprintln(w, "}")
}

func drawMermaid(w io.Writer, _ string, snap model.Snapshot) {
	clusters, nodes := graphOf(snap)
	text := func(s string) string {
		// Mermaid reads labels as HTML: entity codes keep names and
		// addresses literal.
		return `"` + strings.NewReplacer(`"`, "#quot;", "&", "#amp;", "<", "#lt;", ">", "#gt;", "\n", "<br/>").Replace(s) + `"`
	}
	fmt.Fprintln(w, "flowchart LR")
	for i, c := range clusters {
		fmt.Fprintf(w, "  subgraph s%d[%s]\n", i, text(c))
		for _, n := range nodes[i] {
			fmt.Fprintf(w, "    %s[%s]\n", n.id, text(n.label))
		}
		if len(nodes[i]) == 0 {
			fmt.Fprintf(w, "    empty_%d[%s]\n", i, text(noLinks))
		}
		fmt.Fprintln(w, "  end")
	}
	for _, here := range nodes {
		for _, n := range here {
			for _, e := range n.edges {
				fmt.Fprintf(w, "  %s ---|%s| %s\n", n.id, e.label, e.to)
			}
		}
	}
}
