package main

import (
	"io"
	"time"

	"github.com/nsplay/nsplay/internal/session"
	"github.com/spf13/cobra"
)

type planOptions struct {
	vars    defines
	name    string
	report  reportOptions
	timeout time.Duration
	lib     []string
}

func (c *cli) planCommand() *cobra.Command {
	var o planOptions
	cmd := c.command("plan [flags] PLAYBOOK", "print what run would do and check it against a model; no root", `Runs the playbook against nsplay's in-memory model of namespaces, links,
addresses and routes instead of the kernel: it prints the step lines 'nsplay
run' would print, then evaluates the checks against the model. Any user may
run it; nothing on the machine changes (no namespace, link, file, journal or
lock).

The model decides addresses, admin state, carrier (a veth end has carrier
when both ends are up; a bridge when one of its ports has; a macvlan or vlan
when its parent has), masters and ports, MTUs, routes and reachability
(layer 2 through bridges, veth pairs, macvlans, vlans and vxlans, connected
subnets, routes). Values only the kernel knows - what exec_in
printed and its exit status, spawned processes, round-trip times, listening
sockets - are unknown: a check that touches one is UNDECIDED, neither passed
nor failed, and a branch on one is reported at its position. The summary
counts passed, failed and undecided checks; the exit status is 1 when a
decided check failed, 2 on an error, 0 otherwise.`,
		takes(one, "plan takes one playbook, e.g. nsplay plan playbooks/lxcbr0.star"),
		func(args []string) (int, error) { return planCmd(o, args[0], c.stdout, c.stderr) })
	fs := cmd.Flags()
	o.vars = defines{}
	definesFlag(fs, o.vars)
	fs.StringVar(&o.name, "name", "", "call the lab `LAB` (default: the playbook's file name without .star)")
	reportFlags(fs, &o.report)
	timeoutFlag(fs, &o.timeout)
	libFlag(cmd, &o.lib)
	cmd.ValidArgsFunction = playbookArg
	return cmd
}

func planCmd(o planOptions, file string, stdout, stderr io.Writer) (int, error) {
	if err := checkTimeout(o.timeout); err != nil {
		return exitError, err
	}
	lib, err := libraryPath(o.lib)
	if err != nil {
		return exitError, err
	}
	if err := checkPlaybookFile(file); err != nil {
		return exitError, err
	}
	out, err := newReport(o.report, file, stdout, stderr)
	if err != nil {
		return exitError, err
	}
	res, err := session.Run(session.Options{Playbook: file, Name: o.name, Vars: o.vars, Plan: true,
		Paths: session.PlanPaths(), Emit: out.event, Opened: out.opened, Timeout: o.timeout, Lib: lib})
	return reported(out, o.report, res, err, false, stderr)
}
