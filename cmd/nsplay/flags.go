package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// errHelpShown ends a command after -h printed its usage.
var errHelpShown = errors.New("help shown")

// flagSet is flag.FlagSet that also takes flags after positional arguments
// (nsplay run lab.star --keep), as users of ip and containerlab expect.
type flagSet struct {
	*flag.FlagSet
	help io.Writer // where -h prints the usage
}

func newFlagSet(name, synopsis, about string) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), help: os.Stdout}
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: nsplay %s %s\n\n%s\n", name, synopsis, about)
		if hasFlags(fs.FlagSet) {
			fmt.Fprintln(w, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parse parses flags wherever they stand and returns the positional arguments.
func (fs *flagSet) parse(args []string) ([]string, error) {
	fs.SetOutput(discard{})
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(fs.help)
				fs.Usage()
				return nil, errHelpShown
			}
			return nil, usageError{fmt.Sprintf("%s: %s", fs.Name(), err)}
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// timeoutFlag adds --timeout, the time a playbook may run, to a command.
func timeoutFlag(fs *flagSet, d *time.Duration) {
	fs.DurationVar(d, "timeout", 0, "stop the playbook once it has run for `DURATION` (\"90s\", \"10m\"); the lab is torn down and nsplay exits 2 (default: no limit)")
}

// checkTimeout refuses a negative --timeout.
func checkTimeout(d time.Duration) error {
	if d < 0 {
		return usageError{fmt.Sprintf("--timeout %s is negative; give the time the playbook may run, like 90s", d)}
	}
	return nil
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
