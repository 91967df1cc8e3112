package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// cli is one command line being run: where its output goes, and what the
// body of its command decided.
type cli struct {
	args           []string // the whole command line (run --sandbox runs it again)
	stdout, stderr io.Writer
	status         int  // the exit status the body chose
	started        bool // the body ran: its error is not the command line's
	// listed are the commands of the overview, in its order.
	listed []*cobra.Command
}

// command makes a subcommand. use is its synopsis ("run [flags]
// PLAYBOOK"), short its line in the overview and its man page's name line,
// long its help text, args checks its positional arguments, and body does
// the work once the flags are parsed: it returns the exit status and the
// error to print.
func (c *cli) command(use, short, long string, args cobra.PositionalArgs, body func(args []string) (int, error)) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Long: long, Args: args,
		RunE: func(_ *cobra.Command, args []string) error {
			c.started = true
			var err error
			c.status, err = body(args)
			return err
		}}
}

// noStatus is the body of a command whose exit status is 0, or 2 on an
// error.
func noStatus(body func(args []string) error) func([]string) (int, error) {
	return func(args []string) (int, error) { return exitOK, body(args) }
}

// takes checks the number of positional arguments: ok tells whether it is
// right, want says what the command takes, as its usage error.
func takes(ok func(n int) bool, want string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if !ok(len(args)) {
			return usageError{want}
		}
		return nil
	}
}

func one(n int) bool  { return n == 1 }
func none(n int) bool { return n == 0 }

// flagError makes a flag that did not parse a usage error. A long flag
// written with one dash, as nsplay took them before it used cobra
// (-keep), is named in its two-dash form: one dash starts short flags,
// and -keep is -k -e -e -p.
func (c *cli) flagError(cmd *cobra.Command, err error) error {
	for _, arg := range c.args {
		if arg == "--" {
			break
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(arg, "-"), "=")
		if strings.HasPrefix(arg, "-") && !strings.HasPrefix(arg, "--") && len(name) > 1 && cmd.Flags().Lookup(name) != nil {
			return usageError{fmt.Sprintf("%s: a long flag takes two dashes: write -%s", arg, arg)}
		}
	}
	if hint, ok := cmd.Annotations[flagErrorHint]; ok {
		return usageError{err.Error() + "; " + hint}
	}
	return usageError{err.Error()}
}

// flagErrorHint is the annotation of a command that says more on a flag
// that did not parse (exec: where its command's own flags go).
const flagErrorHint = "nsplay.flagErrorHint"

// timeoutFlag adds --timeout, the time a playbook may run, to a command.
func timeoutFlag(fs *pflag.FlagSet, d *time.Duration) {
	fs.DurationVar(d, "timeout", 0, "stop the playbook once it has run for `DURATION` (\"90s\", \"10m\"); the lab is torn down and nsplay exits 2 (default: no limit)")
}

// checkTimeout refuses a negative --timeout.
func checkTimeout(d time.Duration) error {
	if d < 0 {
		return usageError{fmt.Sprintf("--timeout %s is negative; give the time the playbook may run, like 90s", d)}
	}
	return nil
}

// definesFlag adds -D/--define, the playbook's variables, to a command.
func definesFlag(fs *pflag.FlagSet, d defines) {
	fs.VarP(d, "define", "D", "set a playbook variable: -D `name=value` is what var(\"name\", default) returns (repeatable)")
}

// defines collects -D name=value flags.
type defines map[string]string

func (d defines) String() string {
	var parts []string
	for k, v := range d {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

func (d defines) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	d[name] = value
	return nil
}

// Type is what the flag's value is, in the help.
func (d defines) Type() string { return "name=value" }
