// Command nsplay runs playbooks: Starlark files that build network labs out
// of real Linux namespaces, check them against the live kernel, and tear
// them down.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/nsplay/nsplay/internal/kernel"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1 // a check failed
	exitError  = 2 // an error in the playbook, the kernel or the command line
	exitSignal = 128
)

// usageError is a mistake on the command line: it prints the usage hint.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `nsplay runs playbooks: Starlark files that build network labs out of real
Linux namespaces (bridges, veth pairs, addresses, routes, resolv.conf), check
them against the live kernel, and tear them down.

Usage:
  nsplay run [flags] PLAYBOOK   build the lab, run its checks, tear it down
  nsplay plan [flags] PLAYBOOK  print what run would do and check it against a model; no root
  nsplay graph [--format dot|mermaid] PLAYBOOK|LAB
                                draw the lab of a playbook (from the model) or of a lab that is up
  nsplay test [flags] PATH...   run playbooks sandboxed and compare with golden files
  nsplay show [--json] LAB      print the live state of a lab that is up
  nsplay monitor [--json] [LAB] print changes to namespaces, links, addresses, routes
  nsplay down LAB...            tear down a lab kept with --keep or left by a crash
  nsplay ls [--json]            list the labs that are up
  nsplay version                print the version
  nsplay help [COMMAND]         explain a command and its flags
  nsplay help builtins|NAME     list the playbook language's builtins, or explain one

Exit status: 0 all checks passed, 1 a check failed, 2 an error in the
playbook, the kernel or the command line, 128+N after signal N.

The playbook language is described in docs/language.md, and offline by
'nsplay help builtins'.
`

func main() {
	// Commands a playbook runs start as this binary (see kernel.Start).
	kernel.MaybeExecHelper()
	os.Exit(nsplay(os.Args[1:], os.Stdout, os.Stderr))
}

// nsplay runs one command line and returns the exit status.
func nsplay(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return exitError
	}
	var err error
	status := exitOK
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		status, err = runCmd(rest, stdout, stderr)
	case "test":
		status, err = testCmd(rest, stdout, stderr)
	case "plan":
		status, err = planCmd(rest, stdout, stderr)
	case "graph":
		err = graphCmd(rest, stdout)
	case "golden":
		status, err = goldenCmd(rest, stdout, stderr)
	case "show":
		err = showCmd(rest, stdout)
	case "monitor":
		err = monitorCmd(rest, stdout, stderr)
	case "down":
		err = downCmd(rest, stdout, stderr)
	case "ls":
		err = lsCmd(rest, stdout)
	case "version", "--version":
		fmt.Fprintf(stdout, "nsplay %s\n", versionString())
	case "help", "-h", "-help", "--help":
		err = helpCmd(rest, stdout)
	default:
		err = usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "nsplay: %s\nRun 'nsplay help' for usage.\n", ue.msg)
		return exitError
	case errors.Is(err, errHelpShown):
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "nsplay: %s\n", err)
		if status == exitOK {
			status = exitError
		}
	}
	return status
}

func helpCmd(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		printUsage(stdout)
		return nil
	}
	for name, fs := range map[string]func() *flagSet{"run": runFlags, "plan": planFlags, "graph": graphFlags, "test": testFlags, "show": showFlags, "monitor": monitorFlags, "down": downFlags, "ls": lsFlags} {
		if name == args[0] {
			f := fs()
			f.SetOutput(stdout)
			f.Usage()
			return nil
		}
	}
	if args[0] == "version" {
		fmt.Fprintln(stdout, "Usage: nsplay version\n\nPrints nsplay's version and the Go version it was built with.")
		return nil
	}
	return helpTopic(stdout, args[0])
}

// printUsage prints the overview and the flags of every command.
func printUsage(w io.Writer) {
	fmt.Fprint(w, usage)
	for _, c := range []struct {
		name  string
		flags func() *flagSet
	}{{"run", runFlags}, {"plan", planFlags}, {"graph", graphFlags}, {"test", testFlags}, {"show", showFlags}, {"monitor", monitorFlags}, {"ls", lsFlags}} {
		fs := c.flags()
		fs.SetOutput(w)
		fmt.Fprintf(w, "\nFlags of %s:\n", c.name)
		fs.PrintDefaults()
	}
}

func versionString() string {
	v := version
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		v += " " + info.GoVersion
	}
	return v
}
