package kernel

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// SetNetnsID gives namespace o the id under which n knows it, like
// `ip netns set NAME ID` does from the host.
func (n *NS) SetNetnsID(o *NS, id int) error {
	if err := usable(n, o); err != nil {
		return err
	}
	if err := n.nl.SetNetNsIdByFd(o.Fd(), id); err != nil {
		return fmt.Errorf("set the netns id of %s to %d in %s: %w", o, id, n, classify(err))
	}
	return nil
}

// NamedList lists the names under dir, sorted, like `ip netns list` does
// for /run/netns.
func NamedList(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names, nil
}

// Identify returns the name under dir of the network namespace process
// pid is in, or "" if it has none, like `ip netns identify PID`.
func Identify(dir string, pid int) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st); err != nil {
		return "", fmt.Errorf("process %d: %w", pid, classify(err))
	}
	names, err := NamedList(dir)
	if err != nil {
		return "", err
	}
	for _, name := range names {
		var o unix.Stat_t
		if unix.Stat(filepath.Join(dir, name), &o) == nil && o.Dev == st.Dev && o.Ino == st.Ino {
			return name, nil
		}
	}
	return "", nil
}
