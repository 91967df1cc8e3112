package main

import (
	"context"
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
	"github.com/nsplay/nsplay/internal/session"
	"github.com/spf13/cobra"
)

func (c *cli) downCommand() *cobra.Command {
	var all bool
	cmd := c.command("down LAB... | --all", "tear down a lab kept with --keep or left by a crash", `Tears down labs that are up but not running: kept with 'nsplay run --keep', or
left behind when nsplay was killed. It removes what the lab's journal lists
(links, routes, addresses, files, namespaces), newest first, and nothing else.

With --all it tears down every lab on the machine: those whose journals are
under /run/nsplay, by their journals, never by a pattern of names. A lab that
an nsplay is still running is skipped, with a message, and down exits 2.`,
		func(_ *cobra.Command, names []string) error {
			switch {
			case all && len(names) > 0:
				return usageError{"down --all takes no lab names: it removes every lab; give either --all or the names"}
			case !all && len(names) == 0:
				return usageError{"down takes the names of the labs to remove (see 'nsplay ls'), or --all"}
			}
			return nil
		},
		func(names []string) (int, error) { return downCmd(all, names, c.stdout) })
	cmd.Flags().BoolVar(&all, "all", false, "tear down every lab on the machine (skipping those still running)")
	cmd.ValidArgsFunction = labArg
	return cmd
}

// downCmd tears the labs down. A signal (SIGINT, SIGTERM, SIGHUP) does not
// cut it short, nor does a closed output (SIGPIPE): a lab half torn down
// is worse than one torn down a moment later. It then exits as after the
// signal, and says that the teardown went on.
func downCmd(all bool, names []string, stdout io.Writer) (int, error) {
	if os.Geteuid() != 0 {
		return exitError, errors.New("down needs root to delete namespaces and links: run it with sudo")
	}
	ctx, stop := session.SignalContext()
	defer stop()
	err := downLabs(all, names, stdout)
	var sig session.SignalError
	if errors.As(context.Cause(ctx), &sig) {
		return 128 + int(sig.Sig), errors.Join(fmt.Errorf("%w, and went on to the end of the teardown", sig), err)
	}
	return exitOK, err
}

func downLabs(all bool, names []string, stdout io.Writer) error {
	b, err := kernel.NewBackend(model.DefaultPaths)
	if err != nil {
		return err
	}
	defer b.Close()
	if all {
		labs, err := lab.List(model.DefaultPaths)
		if err != nil {
			return err
		}
		if len(labs) == 0 {
			fmt.Fprintln(stdout, "no labs are up")
			return nil
		}
		for _, l := range labs {
			names = append(names, l.Name)
		}
	}
	var errs []error
	for _, name := range names {
		err := lab.Down(name, b, model.DefaultPaths, func(msg string) { fmt.Fprintf(stdout, "down: %s\n", msg) })
		if all && errors.Is(err, lab.ErrBusy) {
			err = fmt.Errorf("lab %s skipped: %w", name, err)
		}
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
