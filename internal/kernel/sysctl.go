package kernel

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/nsplay/nsplay/internal/model"
	"golang.org/x/sys/unix"
)

// Sysctls of the net.* tree are per network namespace, and /proc/sys/net
// shows those of the namespace of the thread that opens a file there: so
// nsplay opens them from a thread inside the namespace (NS.In).

// Sysctl reads a sysctl as n sees it, without the final newline.
func (n *NS) Sysctl(key string) (string, error) {
	path, err := model.SysctlPath(key)
	if err != nil {
		return "", err
	}
	var data []byte
	err = n.In(func() (err error) {
		data, err = readProcSys(path)
		return err
	})
	if err != nil {
		return "", sysctlError(key, n, err)
	}
	return strings.TrimSuffix(string(data), "\n"), nil
}

// SetSysctl writes a sysctl in n. A key that n does not have is
// ErrNotFound; one the kernel does not keep per namespace is
// model.ErrGlobal, and is left as it is.
func (n *NS) SetSysctl(key, value string) error {
	return n.SetSysctls([]model.Setting{{Key: key, Value: value}})
}

// SetSysctls writes sysctls in n, in order, from one thread inside it; it
// stops at the first that SetSysctl would refuse.
func (n *NS) SetSysctls(settings []model.Setting) error {
	return n.setSysctls(settings, inFreshNamespace)
}

// SetSysctlsOfEach is SetSysctls for keys every network namespace has of
// its own (net.ipv6.conf.*): it does not look at them from a new
// namespace, which costs one, where the kernel may allow no more.
func (n *NS) SetSysctlsOfEach(settings []model.Setting) error {
	return n.setSysctls(settings, func(string, string) (freshView, error) { return freshView{exists: true, writable: true}, nil })
}

func (n *NS) setSysctls(settings []model.Setting, view func(key, path string) (freshView, error)) error {
	if len(settings) == 0 {
		return nil
	}
	paths := make([]string, len(settings))
	fresh := make([]freshView, len(settings))
	for i, s := range settings {
		var err error
		if paths[i], err = model.SysctlPath(s.Key); err != nil {
			return err
		}
		if fresh[i], err = view(s.Key, paths[i]); err != nil {
			return err
		}
	}
	failed := settings[0]
	err := n.In(func() error {
		dirs := sysctlDirs{}
		defer dirs.close()
		for i, s := range settings {
			failed = s
			if err := dirs.set(paths[i], s, fresh[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("%s in %s: the kernel does not take %q (invalid argument)", failed.Key, n, failed.Value)
	}
	return sysctlError(failed.Key, n, err)
}

// sysctlDirs holds /proc/sys/net/ipv4, /proc/sys/net/ipv6, ... open, by
// path, while a thread inside a namespace writes sysctls there: files
// opened relative to a folder are looked up from there, one lookup of a
// folder per namespace (see procsys.go).
type sysctlDirs map[string]int

// set writes one sysctl, unless it is not per namespace (see
// freshView.global): writable is what opening it for writing tells.
func (d sysctlDirs) set(path string, s model.Setting, fresh freshView) error {
	dir, rest := sysctlDir(path)
	dfd, ok := d[dir]
	if !ok {
		var err error
		if dfd, err = openProcSysFd(dir, unix.O_PATH|unix.O_DIRECTORY); err != nil {
			return &os.PathError{Op: "open", Path: dir, Err: err}
		}
		d[dir] = dfd
	}
	fd, err := unix.Openat(dfd, rest, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		if gerr := fresh.global(s.Key, false); gerr != nil {
			return gerr
		}
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	if err := fresh.global(s.Key, true); err != nil {
		f.Close()
		return err
	}
	_, err = f.WriteString(s.Value)
	return errors.Join(err, f.Close())
}

func (d sysctlDirs) close() {
	for _, fd := range d {
		unix.Close(fd)
	}
}

// sysctlDir splits a path under /proc/sys/net into the folder of its
// protocol and the rest: /proc/sys/net/ipv6 and conf/default/dad_transmits.
func sysctlDir(path string) (dir, rest string) {
	const root = "/proc/sys/net/"
	proto, rest, ok := strings.Cut(strings.TrimPrefix(path, root), "/")
	if !ok {
		return root[:len(root)-1], proto
	}
	return root + proto, rest
}

func sysctlError(key string, n *NS, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, model.ErrGlobal):
		return err
	case errors.Is(err, os.ErrNotExist):
		return notFoundError{fmt.Errorf("there is no sysctl %s in %s (the kernel has no such key there; `sysctl -a` in the namespace lists those it has)", key, n)}
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%s is read-only in %s: %w", key, n, err)
	}
	return fmt.Errorf("%s in %s: %w", key, n, err)
}

// freshView is how a key looks from a new network namespace, where the
// kernel shows only what each namespace has of its own.
type freshView struct{ exists, writable bool }

// global says why setting key, which a namespace has (and may write, when
// writable), would change the machine, or nil when it is per namespace: a
// key a new namespace does not have belongs to the machine's first
// namespace alone (the neighbour tables' gc_thresh*); one a new namespace
// may not write while this one may (net.core.rmem_max) is the first
// namespace's to change for all (measured: Linux 6.18). Only the first namespace sees either kind: in any other, the first
// kind is not there and the second is read-only.
func (v freshView) global(key string, writable bool) error {
	switch {
	case !v.exists:
		return model.NotPerNamespace(fmt.Sprintf("%s is not per network namespace: only the machine's first namespace has it, and it applies to the whole machine", key))
	case writable && !v.writable:
		return model.NotPerNamespace(fmt.Sprintf("%s is not per network namespace: other namespaces may only read it, and its value applies to the whole machine", key))
	}
	return nil
}

// freshViews caches freshView by key: the kernel decides it once for all.
var freshViews sync.Map

// inFreshNamespace looks at key from a new network namespace, once per
// key. A key of one interface (net.ipv4.conf.eth0.*, net.ipv6.neigh.eth0.*)
// is per namespace, as interfaces are: a new namespace has only lo.
func inFreshNamespace(key, path string) (freshView, error) {
	parts := strings.Split(key, ".")
	if len(parts) > 3 && (parts[2] == "conf" || parts[2] == "neigh") && parts[3] != "all" && parts[3] != "default" {
		return freshView{exists: true, writable: true}, nil
	}
	if v, ok := freshViews.Load(key); ok {
		return v.(freshView), nil
	}
	var v freshView
	err := newNetSwitch.run(func() error {
		v.exists = unix.Access(path, unix.F_OK) == nil
		v.writable = unix.Access(path, unix.W_OK) == nil
		return nil
	})
	if err != nil {
		return v, fmt.Errorf("look at sysctl %s from a new namespace: %w", key, err)
	}
	freshViews.Store(key, v)
	return v, nil
}
