package main

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// commandTree is the command tree a command line runs in.
func commandTree() *cobra.Command {
	return (&cli{stdout: io.Discard, stderr: io.Discard}).root()
}

// eachCommand calls fn with every command a user can give, and its path
// after "nsplay" ("run", "completion bash").
func eachCommand(t *testing.T, fn func(t *testing.T, path []string, cmd *cobra.Command)) {
	var walk func(cmd *cobra.Command, path []string)
	walk = func(cmd *cobra.Command, path []string) {
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() {
				p := append(append([]string{}, path...), sub.Name())
				t.Run(strings.Join(p, "_"), func(t *testing.T) { fn(t, p, sub) })
				walk(sub, p)
			}
		}
	}
	walk(commandTree(), nil)
}

// `nsplay CMD --help`, `nsplay CMD -h` and `nsplay help CMD` print the
// command's help on stdout and exit 0, whatever else the command line
// holds.
func TestEveryCommandHasHelp(t *testing.T) {
	eachCommand(t, func(t *testing.T, path []string, cmd *cobra.Command) {
		want := "Usage: nsplay " + strings.Join(path, " ")
		for _, args := range [][]string{
			append(path, "--help"),
			append(path, "-h"),
			append(append([]string{}, path...), "extra", "args", "--help"),
			append([]string{"help"}, path...),
		} {
			stdout, stderr, code := run(t, args...)
			if code != exitOK || !strings.HasPrefix(stdout, want) || stderr != "" {
				t.Errorf("nsplay %q: status %d, stdout %q, stderr %q; want status 0 and the help, %q...", args, code, stdout, stderr, want)
			}
		}
	})
}

// Arguments a command does not take are a usage error (status 2) that says
// what it takes.
func TestArgumentsNotTaken(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"version", "extra"}, "version takes no arguments"},
		{[]string{"ls", "extra"}, "ls takes no arguments"},
		{[]string{"run", "a.star", "b.star"}, "run takes one playbook"},
		{[]string{"plan"}, "plan takes one playbook"},
		{[]string{"graph", "a", "b"}, "graph takes one playbook or the name of one lab"},
		{[]string{"show"}, "show takes the name of one lab"},
		{[]string{"show", "a", "b"}, "show takes the name of one lab"},
		{[]string{"monitor", "a", "b"}, "monitor takes at most one lab name"},
		{[]string{"down"}, "down takes the names of the labs to remove"},
		{[]string{"down", "--all", "lxcbr0"}, "down --all takes no lab names"},
		{[]string{"exec", "lab", "ns1"}, "exec takes a lab, one of its namespaces and a command"},
		{[]string{"exec", "lab", "--", "ip", "link"}, "exec takes a lab, one of its namespaces and a command"},
		{[]string{"exec", "lab", "ns1", "ping", "-c", "1", "10.0.0.1"}, "write -- before a command with flags of its own"},
		{[]string{"shell", "lab"}, "shell takes a lab and one of its namespaces"},
		{[]string{"shell", "lab", "ns1", "bash"}, "shell takes a lab and one of its namespaces"},
		{[]string{"completion"}, "completion takes the name of a shell"},
		{[]string{"completion", "tcsh"}, `unknown command "tcsh" for "nsplay completion"`},
		{[]string{"completion", "bash", "extra"}, `unknown command "extra" for "nsplay completion bash"`},
		{[]string{"help", "frobnicate"}, `no help for "frobnicate": no such command or builtin; the commands are completion, down, exec`},
		{[]string{"golden"}, "golden is run by 'nsplay test' inside a sandbox"},
	} {
		stdout, stderr, code := run(t, tc.args...)
		if code != exitError || stdout != "" || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "Run 'nsplay help") {
			t.Errorf("nsplay %q: status %d, stdout %q, stderr %q; want status 2, %q and where the help is", tc.args, code, stdout, stderr, tc.want)
		}
	}
}

// A long flag written with one dash, as nsplay took them before it used
// cobra, is a usage error that names the two-dash form, for every flag of
// every command: none is taken for a cluster of short flags.
func TestSingleDashLongFlags(t *testing.T) {
	for _, arg := range []string{"-help", "-version"} {
		if _, stderr, code := run(t, arg); code != exitError || !strings.Contains(stderr, "write -"+arg) {
			t.Errorf("nsplay %s: status %d, stderr %q; want status 2 and \"write -%s\"", arg, code, stderr, arg)
		}
	}
	eachCommand(t, func(t *testing.T, path []string, cmd *cobra.Command) {
		cmd.InitDefaultHelpFlag()
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			for _, arg := range []string{"-" + f.Name, "-" + f.Name + "=x"} {
				args := append(append([]string{}, path...), arg)
				_, stderr, code := run(t, args...)
				if want := "write -" + arg; code != exitError || !strings.Contains(stderr, want) {
					t.Errorf("nsplay %q: status %d, stderr %q; want status 2 and %q", args, code, stderr, want)
				}
			}
		})
	})
}

// Flags go anywhere among the arguments, short ones too, and -- ends the
// flags.
func TestFlagsAfterArguments(t *testing.T) {
	stdout, stderr, code := run(t, "plan", "../../playbooks/star.star", "--json", "-D", "hosts=2", "--define=unused=1")
	wantExit(t, code, exitOK, stdout, stderr)
	if !strings.Contains(stdout, `"msg":"ip netns add h2"`) || strings.Contains(stdout, "h3") || !strings.Contains(stdout, `-D unused was given`) {
		t.Errorf("plan PLAYBOOK --json -D hosts=2 --define=unused=1 did not take its flags:\n%s", stdout)
	}
	_, stderr, code = run(t, "plan", "--", "--json")
	if code != exitError || !strings.Contains(stderr, "playbook --json: stat --json: no such file") {
		t.Errorf("plan -- --json: status %d, stderr %q; want --json taken for the playbook", code, stderr)
	}
}

// The overview names every command a user can give.
func TestOverviewListsEveryCommand(t *testing.T) {
	stdout, _, _ := run(t, "help")
	for _, name := range commandNames(commandTree()) {
		if !strings.Contains(stdout, "\n  nsplay "+name+" ") && !strings.Contains(stdout, "\n  nsplay "+name+"\n") {
			t.Errorf("the overview does not list nsplay %s:\n%s", name, stdout)
		}
	}
	if !strings.Contains(stdout, "Flags of run:\n") || strings.Contains(stdout, "--help") {
		t.Errorf("the overview lists the flags of run (not the --help of every command)?\n%s", stdout)
	}
}

// nsplay completion prints the script of each shell, made from the command
// tree; the script asks nsplay __complete, which completes playbooks as
// .star files.
func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_nsplay", "zsh": "#compdef nsplay", "fish": "complete -c nsplay"} {
		stdout, stderr, code := run(t, "completion", shell)
		if code != exitOK || !strings.Contains(stdout, want) || stderr != "" {
			t.Errorf("nsplay completion %s: status %d, stderr %q, script without %q", shell, code, stderr, want)
		}
	}
	for _, args := range [][]string{{"run", ""}, {"plan", ""}, {"test", "playbooks", ""}, {"graph", ""}} {
		stdout, _, code := run(t, append([]string{"__complete"}, args...)...)
		if want := "star\n:8\n"; code != exitOK || stdout != want {
			t.Errorf("nsplay __complete %q: status %d, %q; want %q (files ending in .star)", args, code, stdout, want)
		}
	}
	stdout, _, _ := run(t, "__complete", "")
	for _, name := range []string{"run\t", "exec\t", "shell\t", "down\t"} {
		if !strings.Contains(stdout, name) {
			t.Errorf("nsplay __complete \"\" does not offer %q:\n%s", name, stdout)
		}
	}
}
