package lab_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// faulty opens the kernel backend with no fault yet; a test sets FailAt.
func faulty(t *testing.T) *testenv.Faulty {
	t.Helper()
	f, err := testenv.NewFaulty(paths, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

// TestDoErrorNamesTheOperation: when the backend refuses a change, Do's
// error names the change as its step line would, and keeps the backend's
// error in the chain.
func TestDoErrorNamesTheOperation(t *testing.T) {
	testenv.RequireRoot(t)
	f := faulty(t)
	l := openLab(t, newLabName(t, newBackend(t)), f)
	op := model.NetnsAdd{Name: uniq("ns")}
	f.FailAt = 1
	_, err := l.Do(op)
	if !errors.Is(err, testenv.ErrInjected) || !strings.HasPrefix(err.Error(), op.Text()+": ") {
		t.Errorf("Do(%s) = %v, want the injected fault after %q", op.Text(), err, op.Text()+": ")
	}
	if len(l.Namespaces()) != 0 {
		t.Errorf("the lab keeps %v after the failed change", l.Namespaces())
	}
}

// TestTeardownKeepsTheFoldersOfAFileItCouldNotRemove: a file whose removal
// fails stays in the journal, and so do the folders the lab made for it,
// instead of being passed over as folders that hold someone else's files;
// `nsplay down` then removes the file and the folders.
func TestTeardownKeepsTheFoldersOfAFileItCouldNotRemove(t *testing.T) {
	testenv.RequireRoot(t)
	before := take(t)
	f := faulty(t)
	name := newLabName(t, newBackend(t))
	l := openLab(t, name, f)
	dir := filepath.Join(paths.EtcNetns, uniq("ns"))
	file := filepath.Join(dir, "resolv.conf")
	do(t, l, model.FileWrite{Path: file, Data: "nameserver 10.0.0.1\n"})
	f.FailAt = len(f.Ops()) + 1 // the teardown's first: rm file
	var reported []string
	err := l.Teardown(func(msg string) { reported = append(reported, msg) })
	if !errors.Is(err, testenv.ErrInjected) || !strings.Contains(err.Error(), "rm "+file+": ") {
		t.Errorf("Teardown = %v, want the failed rm of %s", err, file)
	}
	if len(reported) != 0 {
		t.Errorf("the teardown reported %q; only the file's folders were left to remove, and they hold it", reported)
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("the file is not there: %v", err)
	}
	if objs := objects(t, name); !slices.Contains(objs, "dir "+dir) || !slices.Contains(objs, "file "+file) {
		t.Errorf("the journal lists %q, want the file and its folder", objs)
	}
	l.Close()

	var msgs []string
	if err := lab.Down(name, newBackend(t), paths, func(msg string) { msgs = append(msgs, msg) }); err != nil {
		t.Fatalf("down: %v", err)
	}
	if len(msgs) < 2 || msgs[0] != "rm "+file || msgs[1] != "rmdir "+dir {
		t.Errorf("down reported %q, want rm %s and rmdir %s first", msgs, file, dir)
	}
	before.machine.AssertUnchanged(t)
}
