package testenv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// ThreadsAway lists the threads of the test process that are, in some
// kind of namespace, not where the process is (its main thread, which
// /proc/self/ns shows), as "tid net:[inode]": nsplay moves a thread into a
// lab namespace only for one call, and a thread left there would make the
// later calls of whatever goroutine lands on it reach that namespace. If
// the main thread itself moved, every other thread shows up.
func ThreadsAway(t testing.TB) []string {
	t.Helper()
	kinds, err := os.ReadDir("/proc/self/ns")
	if err != nil {
		t.Fatalf("list the process's namespaces: %v", err)
	}
	want := map[string]uint64{}
	for _, k := range kinds {
		ino, err := nsInode(filepath.Join("/proc/self/ns", k.Name()))
		if err != nil {
			t.Fatalf("the process's %s namespace: %v", k.Name(), err)
		}
		want[k.Name()] = ino
	}
	tasks, err := filepath.Glob("/proc/self/task/*")
	if err != nil || len(tasks) == 0 {
		t.Fatalf("list threads: %v (%d found)", err, len(tasks))
	}
	var away []string
	for _, task := range tasks {
		for kind, ino := range want {
			got, err := nsInode(filepath.Join(task, "ns", kind))
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) {
				break // the thread ended meanwhile
			}
			if err != nil {
				t.Fatalf("thread %s: %v", filepath.Base(task), err)
			}
			if got != ino {
				away = append(away, fmt.Sprintf("%s %s:[%d]", filepath.Base(task), kind, got))
			}
		}
	}
	return away
}

func nsInode(path string) (uint64, error) {
	var st unix.Stat_t
	err := unix.Stat(path, &st)
	return st.Ino, err
}
