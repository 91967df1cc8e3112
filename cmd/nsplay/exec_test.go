package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
	"golang.org/x/sys/unix"
)

const enterPlaybook = "testdata/enter.star"

// keepEnterLab keeps the lab of enter.star (with -k, the short --keep),
// for the test to enter.
func keepEnterLab(t *testing.T) {
	t.Helper()
	stdout, stderr, code := run(t, "run", "-k", enterPlaybook)
	wantExit(t, code, exitOK, stdout, stderr)
}

// nsplayWith runs nsplay in a process of its own, with stdin and more
// environment, and returns its stdout, stderr and exit status.
func nsplayWith(t *testing.T, stdin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := nsplayProcess(t, args...)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatalf("nsplay %q: %v", args, err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

// nsplay exec runs a command in a namespace of a kept lab as ip netns exec
// does, with its streams and exit status; a lab, a namespace that is not
// the lab's, and a namespace of the lab's name that someone else made are
// clear errors.
func TestExec(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	keepEnterLab(t)
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(model.DefaultPaths.RunNetns, "ent1"), &st); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args                 []string
		stdin                string
		code                 int
		stdout, stderrPrefix string
	}{
		{[]string{"enter", "ent1", "--", "readlink", "/proc/self/ns/net"}, "", 0, "net:[" + strconv.FormatUint(st.Ino, 10) + "]\n", ""},
		{[]string{"enter", "ent1", "--", "cat", "/etc/resolv.conf"}, "", 0, "nameserver 10.67.0.1\n", ""},
		{[]string{"enter", "ent1", "cat", "/etc/resolv.conf"}, "", 0, "nameserver 10.67.0.1\n", ""},
		{[]string{"enter", "ent1", "--", "ls", "/sys/class/net"}, "", 0, "eth0\nlo\n", ""},
		{[]string{"enter", "ent1", "--", "sh", "-c", "cat; echo oops >&2; exit 7"}, "typed\n", 7, "typed\n", "oops\n"},
		{[]string{"enter", "ent1", "--", "sh", "-c", "kill -TERM $$"}, "", 128 + int(syscall.SIGTERM), "", ""},
		{[]string{"nosuch", "ent1", "--", "true"}, "", exitError, "", "nsplay: no lab nosuch is up (see `nsplay ls`)\n"},
		{[]string{"enter", "ent3", "--", "true"}, "", exitError, "", "nsplay: lab enter has no namespace ent3: its namespaces are ent1, ent2\n"},
		{[]string{"enter", "host", "--", "true"}, "", exitError, "", "nsplay: lab enter has no namespace host: its namespaces are ent1, ent2\n"},
		{[]string{"enter", "ent1", "--", "nosuchcommand"}, "", exitError, "", `nsplay: command "nosuchcommand" not found`},
	} {
		args := append([]string{"exec"}, tc.args...)
		stdout, stderr, code := nsplayWith(t, tc.stdin, nil, args...)
		if code != tc.code || stdout != tc.stdout || !strings.HasPrefix(stderr, tc.stderrPrefix) {
			t.Errorf("nsplay %q: status %d, stdout %q, stderr %q; want status %d, stdout %q, stderr %q...", args, code, stdout, stderr, tc.code, tc.stdout, tc.stderrPrefix)
		}
	}
	// The test's own /sys and /etc are as they were: exec's mounts were
	// private.
	if _, err := os.Stat("/sys/class/net/eth0"); err == nil {
		t.Error("the test's /sys shows the lab's eth0")
	}

	// ent2 deleted behind the lab's back, and made again by someone else:
	// not the lab's, so not entered.
	testenv.IP(t, "netns", "del", "ent2")
	testenv.IP(t, "netns", "add", "ent2")
	t.Cleanup(func() { exec.Command("ip", "netns", "del", "ent2").Run() })
	_, stderr, code := nsplayWith(t, "", nil, "exec", "enter", "ent2", "--", "true")
	if want := "namespace ent2 is not the one lab enter made: that one is gone, and this one of the same name is someone else's; nsplay does not enter it"; code != exitError || !strings.Contains(stderr, want) {
		t.Errorf("exec into someone else's ent2: status %d, stderr %q; want %q", code, stderr, want)
	}
	testenv.IP(t, "netns", "del", "ent2")
	_, stderr, code = nsplayWith(t, "", nil, "exec", "enter", "ent2", "--", "true")
	if want := "namespace ent2 of lab enter is gone"; code != exitError || !strings.Contains(stderr, want) {
		t.Errorf("exec into a deleted ent2: status %d, stderr %q; want %q", code, stderr, want)
	}

	// Completion offers the labs and then their namespaces, from the
	// journals.
	for args, want := range map[string]string{"exec ": "enter\n:4\n", "shell enter ": "ent1\nent2\n:4\n", "down ": "enter\n:4\n", "show ": "enter\n:4\n",
		"exec enter ent1 -- ": ":0\n", "shell enter ent1 ": ":4\n"} {
		stdout, _, _ := run(t, append([]string{"__complete"}, strings.Split(args, " ")...)...)
		if stdout != want {
			t.Errorf("nsplay __complete %s'': %q, want %q", args, stdout, want)
		}
	}
	stdout, stderr, code := run(t, "down", "enter")
	wantExit(t, code, exitOK, stdout, stderr)
	before.AssertUnchanged(t)
}

// nsplay shell starts $SHELL in a namespace of the lab, with a prompt that
// names the lab and the namespace; bash reads the user's ~/.bashrc first,
// and nsplay removes the rcfile it wrote.
func TestShell(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	keepEnterLab(t)
	home, tmp := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".bashrc"), []byte("PS1='mine$ '\nFROM_BASHRC=yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	input := "echo \"rc=$FROM_BASHRC node=$NSPLAY_NODE lab=$NSPLAY_LAB\"; cat /etc/resolv.conf; exit 3\n"
	env := []string{"SHELL=/bin/bash", "HOME=" + home, "TMPDIR=" + tmp}
	stdout, stderr, code := nsplayWith(t, input, env, "shell", "enter", "ent1")
	if code != 3 || stdout != "rc=yes node=ent1 lab=enter\nnameserver 10.67.0.1\n" || !strings.Contains(stderr, "[enter:ent1] /") {
		t.Errorf("nsplay shell with bash: status %d, stdout %q, stderr %q; want status 3, the variables and resolv.conf, and the prompt [enter:ent1] /...", code, stdout, stderr)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("nsplay shell left %v in its TMPDIR", left)
	}
	stdout, stderr, code = nsplayWith(t, "echo in $NSPLAY_NODE\n", []string{"SHELL=/bin/sh"}, "shell", "enter", "ent1")
	if code != 0 || stdout != "in ent1\n" || !strings.Contains(stderr, "[enter:ent1] # ") {
		t.Errorf("nsplay shell with sh: status %d, stdout %q, stderr %q; want status 0, \"in ent1\" and the prompt [enter:ent1] #", code, stdout, stderr)
	}
	_, stderr, code = nsplayWith(t, "", env, "shell", "enter", "ent3")
	if code != exitError || !strings.Contains(stderr, "lab enter has no namespace ent3") {
		t.Errorf("nsplay shell into ent3: status %d, stderr %q", code, stderr)
	}
	stdout, stderr, code = run(t, "down", "enter")
	wantExit(t, code, exitOK, stdout, stderr)
	before.AssertUnchanged(t)
}

// nsplay down --all removes every lab that the journals under the run
// folder name, kept or orphaned, and skips a running one; nothing else,
// whatever its name.
func TestDownAll(t *testing.T) {
	testenv.RequireRoot(t)
	cleanLabs(t)
	if len(labsUp()) == 0 {
		stdout, stderr, code := run(t, "down", "--all")
		if code != exitOK || stdout != "no labs are up\n" || stderr != "" {
			t.Errorf("down --all with no labs: status %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	}
	// Both labs write /etc/netns files: the folder is there before, so
	// that neither lab owns it. (The lab that made it would leave it to
	// the other, which does not remove what it did not make.)
	testenv.UseEtcNetns(t)
	testenv.IP(t, "netns", "add", "ent9") // like the lab's, but not the lab's
	t.Cleanup(func() { exec.Command("ip", "netns", "del", "ent9").Run() })
	before := testenv.TakeSnapshot(t)
	keepEnterLab(t)
	stdout, stderr, code := run(t, "run", "--keep", tutorial)
	wantExit(t, code, exitOK, stdout, stderr)
	slow, _ := startNsplay(t, "run", "testdata/slow.star")

	stdout, stderr, code = run(t, "down", "--all")
	want := "lab slow skipped: lab slow is in use: nsplay (pid " + strconv.Itoa(slow.Process.Pid) + ") is running it"
	if code != exitError || !strings.Contains(stdout, "lab enter is down\n") || !strings.Contains(stdout, "lab lxcbr0 is down\n") || !strings.Contains(stderr, want) {
		t.Errorf("down --all: status %d\nstdout:\n%s\nstderr:\n%s\nwant status 2, enter and lxcbr0 down, and %q", code, stdout, stderr, want)
	}
	if up := labsUp(); len(up) != 1 || !up["slow"] {
		t.Errorf("labs up after down --all: %v, want the running slow", up)
	}

	// Killed, slow is left behind: down --all takes it down.
	slow.Process.Signal(syscall.SIGKILL)
	slow.Wait()
	stdout, stderr, code = run(t, "down", "--all")
	if code != exitOK || !strings.Contains(stdout, "lab slow is down\n") || stderr != "" {
		t.Errorf("down --all of the orphaned slow: status %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	before.AssertUnchanged(t)
	if !slices.Contains(testenv.Netns(t), "ent9") {
		t.Error("down --all deleted ent9, which no lab made")
	}
}
