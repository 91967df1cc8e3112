package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/spf13/cobra"
)

// nsplay exec and nsplay shell run what the user asks in a namespace of a
// lab, through kernel.Start, the machinery of exec_in: the one place
// nsplay runs a command that no playbook asked for.

func (c *cli) execCommand() *cobra.Command {
	const takesWhat = "exec takes a lab, one of its namespaces and a command, e.g. nsplay exec lxcbr0 ns1 -- ip -br addr"
	cmd := c.command("exec LAB NODE -- CMD...", "run a command in namespace NODE of a lab that is up", `Runs CMD in the network namespace NODE of the lab LAB, the way 'ip netns
exec NODE CMD...' does: in a private mount namespace, with a /sys of the
namespace's own and the files of /etc/netns/NODE (resolv.conf, hosts)
mounted over those of /etc. CMD reads nsplay's input and writes its output,
and nsplay exits with CMD's exit status (128+N when signal N ended it).

NODE is a namespace the lab created, found by the lab's journal: a
namespace of that name that is not the one the lab made (deleted and made
again by someone else) is refused. The lab is one that is up: kept with
--keep, running, or left behind by a crash (see 'nsplay ls'). Write --
before CMD when CMD has flags of its own. Needs root.`,
		func(cmd *cobra.Command, args []string) error {
			if dash := cmd.ArgsLenAtDash(); len(args) < 3 || dash != -1 && dash != 2 {
				return usageError{takesWhat}
			}
			return nil
		},
		func(args []string) (int, error) {
			return execCmd("exec", args[0], args[1], args[2:], nil, c.stdout, c.stderr)
		})
	cmd.Annotations = map[string]string{flagErrorHint: "write -- before a command with flags of its own: nsplay exec LAB NODE -- CMD..."}
	cmd.ValidArgsFunction = labNodeArgs
	return cmd
}

func (c *cli) shellCommand() *cobra.Command {
	cmd := c.command("shell LAB NODE", "start a shell in namespace NODE of a lab that is up", `Starts an interactive shell in the network namespace NODE of the lab LAB,
as 'nsplay exec LAB NODE' runs a command: $SHELL, or /bin/sh without it.
The prompt names the lab and the node, "[LAB:NODE] /root# ": bash reads
~/.bashrc first, then nsplay sets PS1; another shell gets PS1 from the
environment. NSPLAY_LAB and NSPLAY_NODE name them too, for a prompt of
your own. Leave it with exit or Ctrl-D; nsplay exits with the shell's exit
status. Needs root.`,
		takes(func(n int) bool { return n == 2 }, "shell takes a lab and one of its namespaces, e.g. nsplay shell lxcbr0 ns1"),
		func(args []string) (int, error) { return shellCmd(args[0], args[1], c.stdout, c.stderr) })
	cmd.ValidArgsFunction = labNodeArgs
	return cmd
}

// execCmd runs argv in namespace node of the lab, with env (nil: nsplay's
// own), connected to the user, and returns its exit status. what names the
// command for its errors.
func execCmd(what, labName, node string, argv, env []string, stdout, stderr io.Writer) (int, error) {
	if os.Geteuid() != 0 {
		return exitError, fmt.Errorf("%s needs root to enter the lab's namespaces: run it with sudo", what)
	}
	paths := model.DefaultPaths
	b, err := kernel.NewBackend(paths)
	if err != nil {
		return exitError, err
	}
	defer b.Close()
	l, err := lab.Inspect(labName, b, paths)
	if err != nil {
		return exitError, err
	}
	ns, err := labNamespace(l, b, node)
	if err != nil {
		return exitError, err
	}
	p, err := kernel.Start(kernel.ExecSpec{NS: ns, Etc: filepath.Join(paths.EtcNetns, node), Argv: argv, Env: env,
		Stdio: &kernel.Stdio{In: os.Stdin, Out: stdout, Err: stderr}})
	if err != nil {
		return exitError, err
	}
	return waitForUser(p)
}

// labNamespace opens the namespace node of the lab: one the lab made, and
// still the one it made, by identity. The check is on the namespace held
// open, which is the one the command enters.
func labNamespace(l *lab.Lab, b *kernel.Backend, node string) (*kernel.NS, error) {
	nodes := l.Namespaces()
	switch {
	case len(nodes) == 0:
		return nil, fmt.Errorf("lab %s made no namespaces, so none is called %s", l.Name, node)
	case !slices.Contains(nodes, node):
		return nil, fmt.Errorf("lab %s has no namespace %s: its namespaces are %s", l.Name, node, strings.Join(nodes, ", "))
	}
	ref := model.Named(node)
	ns, err := b.NS(ref)
	if errors.Is(err, model.ErrNotFound) {
		return nil, fmt.Errorf("namespace %s of lab %s is gone (deleted outside nsplay?): %w", node, l.Name, err)
	}
	if err != nil {
		return nil, err
	}
	if !l.MadeNS(ref, ns.Cookie()) {
		return nil, fmt.Errorf("namespace %s is not the one lab %s made: that one is gone, and this one of the same name is someone else's; nsplay does not enter it", node, l.Name)
	}
	return ns, nil
}

// waitForUser waits for a command the user talks to and returns its exit
// status. SIGINT and SIGQUIT come from the terminal, to the command as
// well: nsplay leaves them to it. SIGTERM and SIGHUP, which another
// process or a closed terminal sends nsplay, it passes on.
func waitForUser(p *kernel.Proc) (int, error) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		for s := range sigs {
			if s == syscall.SIGTERM || s == syscall.SIGHUP {
				p.Signal(s.(syscall.Signal))
			}
		}
	}()
	res, err := p.Wait(context.Background(), 0)
	signal.Stop(sigs)
	close(sigs)
	if err != nil {
		return exitError, err
	}
	return res.RC, nil
}

// shellCmd starts an interactive shell in namespace node of the lab, with
// a prompt that names both.
func shellCmd(labName, node string, stdout, stderr io.Writer) (int, error) {
	shell := os.Getenv("SHELL")
	if shell == "" {
		shell = "/bin/sh"
	}
	env := setEnv(os.Environ(), "NSPLAY_LAB="+labName, "NSPLAY_NODE="+node)
	argv := []string{shell, "-i"}
	if filepath.Base(shell) == "bash" {
		// bash sets PS1 in ~/.bashrc, after it reads the environment: an
		// rcfile of nsplay's reads that first.
		rc, err := os.CreateTemp("", "nsplay-shell-*.bashrc")
		if err != nil {
			return exitError, err
		}
		defer os.Remove(rc.Name())
		_, err = io.WriteString(rc, bashRC)
		if err = errors.Join(err, rc.Close()); err != nil {
			return exitError, err
		}
		argv = []string{shell, "--rcfile", rc.Name(), "-i"}
	} else {
		env = setEnv(env, "PS1=["+labName+":"+node+"] # ")
	}
	return execCmd("shell", labName, node, argv, env, stdout, stderr)
}

// bashRC is the rcfile of nsplay shell in bash.
const bashRC = `# nsplay shell: the user's ~/.bashrc, then a prompt that names the lab and the node.
if [ -f ~/.bashrc ]; then . ~/.bashrc; fi
PS1='[${NSPLAY_LAB}:${NSPLAY_NODE}] \w\$ '
`

// setEnv sets variables ("NAME=value") in an environment, in place of
// those of the same names.
func setEnv(env []string, vars ...string) []string {
	for _, v := range vars {
		name, _, _ := strings.Cut(v, "=")
		env = append(slices.DeleteFunc(env, func(e string) bool { return strings.HasPrefix(e, name+"=") }), v)
	}
	return env
}
