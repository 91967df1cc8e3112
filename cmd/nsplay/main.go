// Command nsplay runs playbooks: Starlark files that build network labs out
// of real Linux namespaces, check them against the live kernel, and tear
// them down.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/sandbox"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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
  nsplay exec LAB NODE -- CMD...
                                run a command in namespace NODE of a lab that is up
  nsplay shell LAB NODE         start a shell in namespace NODE of a lab that is up
  nsplay monitor [--json] [LAB] print changes to namespaces, links, addresses, routes
  nsplay down LAB... | --all    tear down a lab kept with --keep or left by a crash
  nsplay ls [--json]            list the labs that are up
  nsplay completion bash|zsh|fish
                                print the shell's completion script
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
	os.Exit(process())
}

// oneProcessor runs Go code on one processor (GOMAXPROCS=1) unless the
// user set GOMAXPROCS. nsplay does one step at a time and its time goes
// to the kernel, in syscalls; each step hands work to a goroutine locked
// to a thread in a namespace, or to the one that writes the events. With
// a second processor idle, the runtime wakes a thread for each such
// handoff and parks it again: on 2 cores star-1000 made 50,000 context
// switches against 12,000 with one, and took 4.6 s against 3.7 s, most
// of the difference the kernel's time for those switches. A batch of a
// thousand echoes loses a few tens of milliseconds by it (docs/scale.md).
func oneProcessor() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}

// sandboxEndsWithProcess says that this process is the one `run
// --sandbox` started in a sandbox, which ends with it: its lab's teardown
// need not wait for what the kernel removes from the sandbox's host in the
// background (lab.Lab.HostEnds).
var sandboxEndsWithProcess bool

// process runs nsplay as a process of its own, as main does and the test
// binaries do when they serve as nsplay. A test binary that calls nsplay
// in its own sandbox looks at that sandbox afterwards, so only here is a
// sandbox taken for one that ends with the process.
func process() int {
	oneProcessor()
	sandboxEndsWithProcess = sandbox.Inside()
	return nsplay(os.Args[1:], os.Stdout, os.Stderr)
}

// nsplay runs one command line and returns the exit status.
func nsplay(args []string, stdout, stderr io.Writer) int {
	if args == nil {
		args = []string{} // not nil, which cobra takes for os.Args[1:]
	}
	c := &cli{args: args, stdout: stdout, stderr: stderr}
	root := c.root()
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	var ue usageError
	switch {
	case err == nil:
		return c.status
	case errors.As(err, &ue) || !c.started:
		// Cobra's own errors (an unknown command, a flag that does not
		// parse) come before the body runs: the command line's.
		fmt.Fprintf(stderr, "nsplay: %s\nRun '%s' for usage.\n", err, helpFor(cmd))
		return exitError
	}
	fmt.Fprintf(stderr, "nsplay: %s\n", err)
	if c.status == exitOK {
		return exitError
	}
	return c.status
}

// root is the command tree: nsplay and its commands, in the overview's
// order.
func (c *cli) root() *cobra.Command {
	root := &cobra.Command{Use: "nsplay", Short: "run playbooks that build network labs of Linux namespaces",
		Long: usage, Version: versionString(), SilenceErrors: true, SilenceUsage: true,
		RunE: func(*cobra.Command, []string) error {
			c.started, c.status = true, exitError
			c.printUsage(c.stderr)
			return nil
		}}
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	root.Flags().Bool("version", false, "print the version") // no -v: cobra's default
	root.SetVersionTemplate("nsplay {{.Version}}\n")
	root.SetFlagErrorFunc(c.flagError)
	root.SetHelpFunc(c.help)
	c.listed = []*cobra.Command{c.runCommand(), c.planCommand(), c.graphCommand(), c.testCommand(), c.showCommand(),
		c.execCommand(), c.shellCommand(), c.monitorCommand(), c.downCommand(), c.lsCommand(), c.versionCommand()}
	root.AddCommand(c.listed...)
	root.AddCommand(c.goldenCommand())
	root.SetHelpCommand(c.helpCommand(root))
	completionCommand(root)
	return root
}

// completionCommand completes cobra's nsplay completion SHELL: without a
// shell, or with another word, it is a usage error, as a missing or an
// extra argument is for every command.
func completionCommand(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	cmd, _, err := root.Find([]string{"completion"})
	if err != nil {
		panic(err) // cobra made it just now
	}
	cmd.Use, cmd.Short = "completion bash|zsh|fish|powershell", "print the shell's completion script"
	cmd.RunE = func(*cobra.Command, []string) error {
		return usageError{"completion takes the name of a shell: bash, zsh, fish or powershell, e.g. source <(nsplay completion bash)"}
	}
}

// helpFor is the command that explains cmd.
func helpFor(cmd *cobra.Command) string {
	if cmd == nil || !cmd.HasParent() || cmd.Name() == "help" {
		return "nsplay help"
	}
	return "nsplay help " + strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
}

func (c *cli) versionCommand() *cobra.Command {
	return c.command("version", "print the version", "Prints nsplay's version and the Go version it was built with.",
		takes(none, "version takes no arguments"), noStatus(func([]string) error {
			fmt.Fprintf(c.stdout, "nsplay %s\n", versionString())
			return nil
		}))
}

// help prints the help of a command on its output (stdout): the overview
// for nsplay itself; else the synopsis, the text and the flags.
func (c *cli) help(cmd *cobra.Command, _ []string) {
	w := cmd.OutOrStdout()
	if !cmd.HasParent() {
		c.printUsage(w)
		return
	}
	text := cmd.Long
	if text == "" {
		text = cmd.Short
	}
	fmt.Fprintf(w, "Usage: %s %s\n\n%s\n", cmd.Parent().CommandPath(), cmd.Use, strings.TrimSuffix(text, "\n"))
	if cmd.HasAvailableSubCommands() {
		fmt.Fprintln(w, "\nCommands:")
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() {
				fmt.Fprintf(w, "  %-12s %s\n", sub.Name(), sub.Short)
			}
		}
	}
	if flags := cmd.LocalFlags(); flags.HasAvailableFlags() {
		fmt.Fprintf(w, "\nFlags:\n%s", flags.FlagUsages())
	}
}

// helpCommand is nsplay help [TOPIC]: the help of a command, or of a
// topic that is no command (helpTopic).
func (c *cli) helpCommand(root *cobra.Command) *cobra.Command {
	cmd := c.command("help [COMMAND]", "explain a command and its flags",
		"Prints the help of a command: what it does, what it takes and its flags; without one, the overview of all commands.",
		cobra.ArbitraryArgs, noStatus(func(args []string) error {
			if len(args) == 0 {
				c.printUsage(c.stdout)
				return nil
			}
			if sub, rest, err := root.Find(args); err == nil && sub != root && len(rest) == 0 {
				sub.InitDefaultHelpFlag() // shown in its flags, as with --help
				return sub.Help()
			}
			err := helpTopic(c.stdout, strings.Join(args, " "), commandNames(root))
			if errors.Is(err, errUnknownTopic) {
				return usageError{err.Error()} // the command line's mistake
			}
			return err
		}))
	cmd.ValidArgsFunction = func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return commandNames(root), cobra.ShellCompDirectiveNoFileComp
	}
	return cmd
}

// commandNames are the commands a user may give, in the overview's order.
func commandNames(root *cobra.Command) []string {
	var names []string
	for _, cmd := range root.Commands() {
		if cmd.IsAvailableCommand() {
			names = append(names, cmd.Name())
		}
	}
	return names
}

// printUsage prints the overview and the flags of every command.
func (c *cli) printUsage(w io.Writer) {
	fmt.Fprint(w, usage)
	for _, cmd := range c.listed {
		fs := pflag.NewFlagSet(cmd.Name(), pflag.ContinueOnError)
		cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" { // every command has it
				fs.AddFlag(f)
			}
		})
		if fs.HasAvailableFlags() {
			fmt.Fprintf(w, "\nFlags of %s:\n%s", cmd.Name(), fs.FlagUsages())
		}
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
