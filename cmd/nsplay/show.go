package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/spf13/cobra"
)

func (c *cli) showCommand() *cobra.Command {
	var asJSON bool
	cmd := c.command("show [--json] LAB", "print the live state of a lab that is up", `Prints the live state of a lab that is up (kept with --keep, running, or
orphaned): its links, addresses, routes, the sysctls and NAT rules it set,
and its /etc/netns files, read from the kernel now, as tables like
'containerlab inspect'. --json prints the same fields as state() in a
playbook.`,
		takes(one, "show takes the name of one lab (see 'nsplay ls')"),
		noStatus(func(args []string) error { return showCmd(asJSON, args[0], c.stdout) }))
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the state as JSON, with the fields of state()")
	cmd.ValidArgsFunction = labArg
	return cmd
}

func showCmd(asJSON bool, name string, stdout io.Writer) error {
	if os.Geteuid() != 0 {
		return errors.New("show needs root to read the lab's namespaces: run it with sudo")
	}
	b, err := kernel.NewBackend(model.DefaultPaths)
	if err != nil {
		return err
	}
	defer b.Close()
	l, err := lab.Inspect(name, b, model.DefaultPaths)
	if err != nil {
		return err
	}
	snap, err := snapshotHere(l, "show")
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(snap)
	}
	return showTables(stdout, snap)
}

// snapshotHere is the snapshot of a lab that is up, for command cmd; from
// another network namespace than the one the lab was built in, an error:
// that one's host is not the lab's.
func snapshotHere(l *lab.Lab, cmd string) (model.Snapshot, error) {
	if err := l.BuiltHere(cmd, "would take its host for the lab's"); err != nil {
		return model.Snapshot{}, err
	}
	return l.Snapshot(nil)
}

// showTables prints links, routes, sysctls, permanent neighbour entries,
// NAT rules, the bridge ports whose MLD reports the lab drops, files and
// impairments, one table each.
func showTables(w io.Writer, snap model.Snapshot) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NETNS\tLINK\tKIND\tSTATE\tMTU\tMASTER\tPEER\tADDRESSES\tDETAILS")
	for _, ns := range snap.Namespaces {
		for _, l := range ns.Links {
			peer := "-"
			if l.Peer != "" {
				peer = l.Peer + "@" + l.PeerNS
			}
			var addrs []string
			for _, a := range l.Addrs {
				addrs = append(addrs, a.CIDR)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", ns.Name, l.Name, l.Kind, linkState(l), l.MTU,
				dash(l.Master), peer, dash(strings.Join(addrs, " ")), dash(l.KindDetails()))
		}
	}
	fmt.Fprintln(tw, "\nNETNS\tROUTE\tVIA\tDEV\tMETRIC\tTABLE\tPROTO\tSCOPE")
	for _, ns := range snap.Namespaces {
		for _, r := range ns.Routes {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", ns.Name, r.Dst, dash(r.Via), dash(r.Dev), r.Metric, r.Table, r.Proto, r.Scope)
		}
	}
	showSection(tw, snap, "NETNS\tSYSCTL\tVALUE", func(ns model.NSState) []string {
		var rows []string
		for _, key := range slices.Sorted(maps.Keys(ns.Sysctls)) {
			rows = append(rows, key+"\t"+ns.Sysctls[key])
		}
		return rows
	})
	showSection(tw, snap, "NETNS\tNEIGHBOUR\tLLADDR\tDEV", func(ns model.NSState) []string {
		var rows []string
		for _, n := range ns.Neighbours {
			rows = append(rows, n.IP+"\t"+n.MAC+"\t"+n.Dev)
		}
		return rows
	})
	showSection(tw, snap, "NETNS\tNAT RULE", func(ns model.NSState) []string { return ns.NAT })
	showSection(tw, snap, "NETNS\tQUIET MLD PORT", func(ns model.NSState) []string { return ns.QuietMLD })
	files := false
	for _, ns := range snap.Namespaces {
		for _, f := range ns.Files {
			if !files {
				fmt.Fprintln(tw, "\nNETNS\tFILE\tCONTENT")
				files = true
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", ns.Name, f.Path, strings.ReplaceAll(strings.TrimSpace(f.Content), "\n", "; "))
		}
	}
	showSection(tw, snap, "NETNS\tLINK\tIMPAIRMENTS", func(ns model.NSState) []string {
		var rows []string
		for _, l := range ns.Links {
			if l.Impairments != nil {
				rows = append(rows, l.Name+"\t"+strings.ReplaceAll(l.Impairments.String(), ",", " "))
			}
		}
		return rows
	})
	return tw.Flush()
}

// showSection prints a table of the rows each namespace has, under its
// header; nothing when there are none.
func showSection(tw io.Writer, snap model.Snapshot, header string, rows func(model.NSState) []string) {
	first := true
	for _, ns := range snap.Namespaces {
		for _, row := range rows(ns) {
			if first {
				fmt.Fprintln(tw, "\n"+header)
				first = false
			}
			fmt.Fprintf(tw, "%s\t%s\n", ns.Name, row)
		}
	}
}

// linkState is what `ip -br link` would say: UP, DOWN, or up without carrier.
func linkState(l model.LinkState) string {
	switch {
	case !l.Up:
		return "down"
	case !l.Carrier:
		return "up, no carrier"
	}
	return "up"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
