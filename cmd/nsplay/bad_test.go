package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/testenv"
)

// TestBadPlaybooks runs every playbook in testdata/bad with `nsplay run`,
// each in a process of its own, and checks what its header asks:
//
//	# exit: N          the exit status
//	# error: REGEXP    stderr matches (Go syntax; repeatable)
//	# stdout: REGEXP   stdout matches (repeatable)
//	# args: FLAGS...   more flags for nsplay run, before the playbook
//
// and that the machine is as it was: no namespace, link, file, journal or
// process left behind.
func TestBadPlaybooks(t *testing.T) {
	testenv.RequireRoot(t)
	files, err := filepath.Glob("../../testdata/bad/*.star")
	if err != nil || len(files) < 60 {
		t.Fatalf("testdata/bad holds %d playbooks, want at least 60 (%v)", len(files), err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".star"), func(t *testing.T) {
			want := badHeader(t, file)
			before := testenv.TakeSnapshot(t)
			cleanLabs(t)
			cmd := nsplayProcess(t, append(append([]string{"run"}, want.args...), file)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			timer := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
			cmd.Wait()
			timer.Stop()
			code := cmd.ProcessState.ExitCode()
			if code != want.exit {
				t.Errorf("exit status %d, want %d", code, want.exit)
			}
			for _, re := range want.stderr {
				if !re.MatchString(stderr.String()) {
					t.Errorf("stderr does not match %s", re)
				}
			}
			for _, re := range want.stdout {
				if !re.MatchString(stdout.String()) {
					t.Errorf("stdout does not match %s", re)
				}
			}
			if t.Failed() {
				t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			}
			before.AssertUnchanged(t)
		})
	}
}

// badCase is what a playbook of testdata/bad expects.
type badCase struct {
	exit           int
	stderr, stdout []*regexp.Regexp
	args           []string
}

func badHeader(t *testing.T, file string) badCase {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c := badCase{exit: -1}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() && strings.HasPrefix(sc.Text(), "# ") {
		key, value, _ := strings.Cut(strings.TrimPrefix(sc.Text(), "# "), ": ")
		switch key {
		case "exit":
			if c.exit, err = strconv.Atoi(value); err != nil {
				t.Fatalf("%s: exit: %v", file, err)
			}
		case "error", "stdout":
			re, err := regexp.Compile(value)
			if err != nil {
				t.Fatalf("%s: %s: %v", file, key, err)
			}
			if key == "error" {
				c.stderr = append(c.stderr, re)
			} else {
				c.stdout = append(c.stdout, re)
			}
		case "args":
			c.args = strings.Fields(value)
		}
	}
	if c.exit < 0 || len(c.stderr)+len(c.stdout) == 0 {
		t.Fatalf("%s has no '# exit: N' or no '# error: REGEXP' or '# stdout: REGEXP' header", file)
	}
	return c
}
