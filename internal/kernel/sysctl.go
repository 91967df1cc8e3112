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
		data, err = os.ReadFile(path)
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
	path, err := model.SysctlPath(key)
	if err != nil {
		return err
	}
	fresh, err := inFreshNamespace(key, path)
	if err != nil {
		return err
	}
	err = n.In(func() error {
		if err := unix.Access(path, unix.F_OK); err != nil {
			return err
		}
		if err := fresh.global(key, unix.Access(path, unix.W_OK) == nil); err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, err = f.WriteString(value)
		return errors.Join(err, f.Close())
	})
	if errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("%s in %s: the kernel does not take %q (invalid argument)", key, n, value)
	}
	return sysctlError(key, n, err)
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
