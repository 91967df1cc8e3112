package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/spf13/cobra"
)

func (c *cli) downCommand() *cobra.Command {
	cmd := c.command("down LAB...", "tear down a lab kept with --keep or left by a crash", `Tears down labs that are up but not running: kept with 'nsplay run --keep', or
left behind when nsplay was killed. It removes what the lab's journal lists
(links, routes, addresses, files, namespaces), newest first, and nothing else.`,
		takes(func(n int) bool { return n > 0 }, "down takes the names of the labs to remove (see 'nsplay ls')"),
		noStatus(func(names []string) error { return downCmd(names, c.stdout, c.stderr) }))
	cmd.ValidArgsFunction = labArg
	return cmd
}

func downCmd(names []string, stdout, stderr io.Writer) error {
	if os.Geteuid() != 0 {
		return errors.New("down needs root to delete namespaces and links: run it with sudo")
	}
	b, err := kernel.NewBackend(model.DefaultPaths)
	if err != nil {
		return err
	}
	defer b.Close()
	var errs []error
	for _, name := range names {
		err := lab.Down(name, b, model.DefaultPaths, func(msg string) { fmt.Fprintf(stdout, "down: %s\n", msg) })
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(stdout, "lab %s is down\n", name)
	}
	return errors.Join(errs...)
}

func (c *cli) lsCommand() *cobra.Command {
	var asJSON bool
	cmd := c.command("ls [--json]", "list the labs that are up", `Lists the labs that are up and their state: running (an nsplay is running
it), kept (with --keep), or orphaned (nsplay was killed), and the pid of the
nsplay that holds a running lab. Remove kept and orphaned labs with 'nsplay
down LAB'.`,
		takes(none, "ls takes no arguments"),
		noStatus(func([]string) error { return lsCmd(asJSON, c.stdout) }))
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON, one object per lab")
	return cmd
}

func lsCmd(asJSON bool, stdout io.Writer) error {
	labs, err := lab.List(model.DefaultPaths)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		for _, l := range labs {
			if err := enc.Encode(struct {
				Name     string `json:"name"`
				State    string `json:"state"`
				Objects  int    `json:"objects"`
				Playbook string `json:"playbook"`
				PID      int    `json:"pid,omitempty"` // the nsplay that holds it, while it runs
			}{l.Name, l.State, l.Objects, l.Playbook, l.Holder}); err != nil {
				return err
			}
		}
		return nil
	}
	if len(labs) == 0 {
		fmt.Fprintln(stdout, "no labs are up")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LAB\tSTATE\tOBJECTS\tPLAYBOOK\tPID")
	for _, l := range labs {
		pid := "-"
		if l.Holder != 0 {
			pid = strconv.Itoa(l.Holder)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", l.Name, l.State, l.Objects, l.Playbook, pid)
	}
	return tw.Flush()
}
