package kernel_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
	"golang.org/x/sys/unix"
)

// TestFileWriteLeavesNothingWhenItFails writes a new file to a file system
// that is too small for it: the write fails, and the backend removes what
// it wrote of the new file, so that a failed change leaves nothing (the
// lab forgets a change that failed). A file that was there before stays.
func TestFileWriteLeavesNothingWhenItFails(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	must(t, unix.Mount("nsplay-test", dir, "tmpfs", 0, "size=4k"))
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	b, err := kernel.NewBackend(model.DefaultPaths)
	must(t, err)
	t.Cleanup(b.Close)
	big := strings.Repeat("nameserver 10.0.0.1\n", 1000)

	path := filepath.Join(dir, "resolv.conf")
	err = b.Apply(model.FileWrite{Path: path, Data: big})
	if !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("writing %d bytes to a 4k tmpfs: %v, want ENOSPC", len(big), err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the new file is there after the failed write: %v", err)
	}

	must(t, os.WriteFile(path, []byte("nameserver 10.0.0.2\n"), 0o644))
	if err := b.Apply(model.FileWrite{Path: path, Data: big}); err == nil {
		t.Fatal("the second write succeeded")
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("a file that was there before is gone after a failed write: %v", err)
	}
}
