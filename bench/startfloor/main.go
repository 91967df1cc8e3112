// Command startfloor is the floor of nsplay's start-up in make bench
// (BenchmarkStartup): a Go program that does nothing, and with -sandbox one
// that runs itself again in the new namespaces nsplay's sandbox starts its
// first process in (network, mount, PID, UTS, IPC and cgroup, as
// internal/sandbox.Command asks for them) and waits for that copy, which
// does nothing. No playbook runs faster than the first, nor with --sandbox
// faster than the second: a Go program cannot enter a new mount namespace
// once its runtime has started threads, so the sandbox is a second
// process. It imports nothing of nsplay, whose packages' initialisation
// is part of what nsplay's start costs.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// copyEnv marks the copy that -sandbox starts.
const copyEnv = "NSPLAY_STARTFLOOR_COPY"

func main() {
	if len(os.Args) == 1 || os.Getenv(copyEnv) == "1" {
		return
	}
	if len(os.Args) != 2 || os.Args[1] != "-sandbox" {
		fmt.Fprintln(os.Stderr, "usage: startfloor [-sandbox]")
		os.Exit(2)
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "startfloor:", err)
		os.Exit(1)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), copyEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS |
		syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWCGROUP}
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "startfloor:", err)
		os.Exit(1)
	}
}
