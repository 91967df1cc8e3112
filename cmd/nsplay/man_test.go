package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra/doc"
)

// TestManPages makes the man pages from the command tree: one for nsplay
// and one for each command, each with its text and flags. `make man` runs
// it with NSPLAY_MAN_DIR to write them there; the generator stays out of
// nsplay's binary, whose start every command of a playbook pays for (the
// kernel's exec helper).
func TestManPages(t *testing.T) {
	dir := os.Getenv("NSPLAY_MAN_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	header := &doc.GenManHeader{Title: "NSPLAY", Section: "1", Source: "nsplay " + version, Manual: "nsplay manual"}
	if err := doc.GenManTree(commandTree(), header, dir); err != nil {
		t.Fatal(err)
	}
	for page, want := range map[string]string{
		"nsplay.1":                 "nsplay runs playbooks",
		"nsplay-run.1":             `\fB--keep\fP`,
		"nsplay-exec.1":            "ip netns",
		"nsplay-down.1":            `\fB--all\fP`,
		"nsplay-completion-bash.1": "bash",
	} {
		data, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil || !strings.Contains(string(data), want) {
			t.Errorf("%s: %v, want a page with %q:\n%s", page, err, want, data)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nsplay-golden.1")); err == nil {
		t.Error("the hidden command golden has a man page")
	}
}
