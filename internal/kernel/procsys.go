package kernel

import (
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Files under /proc/sys/net are looked up in the namespace of the thread
// that opens them, and the kernel's name cache keeps, for each namespace
// that looked one up, an entry in one list per folder and name (net/ipv6
// of every namespace). Every lookup walks that list: with a thousand
// namespaces a path costs ~300 us, with five thousand over a millisecond,
// and a star's build grows with the square of its hosts. The list belongs
// to one procfs instance, so nsplay looks up sysctls through instances of
// its own, detached from every mount table (fsopen, fsmount), each for a
// few dozen lookups: its lists stay short, and the instance is gone once
// the last file opened through it is closed, also when nsplay is killed.
// Where the kernel makes none (before Linux 5.2, or no permission to), the
// lookups go through /proc.
var procSys struct {
	sync.Mutex
	root  int // the root of the instance in use; 0: none yet
	uses  int // lookups made through it
	plain bool
}

// procSysUses is how many lookups one instance serves.
const procSysUses = 32

// openProcSys opens path, a file under /proc/sys, from the calling thread.
func openProcSys(path string, flags int) (*os.File, error) {
	fd, err := openProcSysFd(path, flags)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

func openProcSysFd(path string, flags int) (int, error) {
	flags |= unix.O_CLOEXEC
	procSys.Lock()
	defer procSys.Unlock()
	if !procSys.plain && (procSys.root == 0 || procSys.uses >= procSysUses) {
		root, err := newProcInstance()
		if procSys.root != 0 {
			unix.Close(procSys.root) // files opened through it keep it
		}
		procSys.root, procSys.uses, procSys.plain = root, 0, err != nil
	}
	if procSys.plain {
		return unix.Open(path, flags, 0)
	}
	procSys.uses++
	return unix.Openat(procSys.root, strings.TrimPrefix(path, "/proc/"), flags, 0)
}

// newProcInstance makes a procfs instance that no mount table shows, and
// returns a descriptor of its root.
func newProcInstance() (int, error) {
	fs, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fs)
	if err := unix.FsconfigCreate(fs); err != nil {
		return 0, err
	}
	return unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, 0)
}

// readProcSys reads a file under /proc/sys from the calling thread.
func readProcSys(path string) ([]byte, error) {
	f, err := openProcSys(path, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
