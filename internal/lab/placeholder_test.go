package lab_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// TestDownAfterAKillWhileMakingANamespace is a lab whose nsplay was killed
// after it journalled a new namespace and made the empty file to mount it
// on, before it mounted it (kill -9 right then): down removes the file,
// which is no namespace, as ip netns del would, and the lab is gone.
func TestDownAfterAKillWhileMakingANamespace(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	name := newLabName(t, b)
	l, err := lab.Open(name, b, paths, "killed.star")
	must(t, err)
	l.Close()
	ns := uniq("half")
	appendJournal(t, name, doRecord(t, 0, model.NetnsAdd{Name: ns}))
	file := filepath.Join(paths.RunNetns, ns)
	must(t, os.MkdirAll(paths.RunNetns, 0o755))
	must(t, os.WriteFile(file, nil, 0o444))
	t.Cleanup(func() { os.Remove(file) })

	var reports []string
	must(t, lab.Down(name, b, paths, func(s string) { reports = append(reports, s) }))
	if _, err := os.Lstat(file); !os.IsNotExist(err) {
		t.Errorf("%s is still there after down: %v", file, err)
	}
	if want := "ip netns del " + ns; !slices.Contains(reports, want) {
		t.Errorf("down reported %q, want %q", reports, want)
	}
	if _, ok := labInfo(t, name); ok {
		t.Errorf("the lab is still listed after down")
	}
}
