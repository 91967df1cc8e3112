package model

import (
	"fmt"
	"slices"
	"strings"
)

// NamespaceKind is a kind of Linux namespace, named as /proc/PID/ns names
// its file.
type NamespaceKind struct {
	Name string
	// Unshare is the unshare(1) option that gives a command a fresh
	// namespace of the kind, as the step line shows it; "" for a kind a
	// command cannot get a fresh one of (nsplay only names its file).
	Unshare string
}

// Fresh tells whether a command can get a namespace of the kind of its own
// (new= of exec_in and spawn).
func (k NamespaceKind) Fresh() bool { return k.Unshare != "" }

// namespaceKinds is the one list of the kinds nsplay knows: an array, so
// that no caller can change it. The kinds a command can get fresh come
// first, in the order messages name them.
var namespaceKinds = [...]NamespaceKind{
	{"mnt", "--mount"}, {"uts", "--uts"}, {"ipc", "--ipc"}, {"pid", "--pid --mount-proc"},
	{"net", "--net"}, {"user", "--user (root inside, nobody outside)"},
	{"cgroup", ""},
}

// NamespaceKinds lists the kinds nsplay knows, those a command can get
// fresh first.
func NamespaceKinds() []NamespaceKind { return slices.Clone(namespaceKinds[:]) }

// NamespaceKindOf looks a kind up by name; an unknown one is the zero
// kind, which is not Fresh.
func NamespaceKindOf(name string) (NamespaceKind, bool) {
	i := slices.IndexFunc(namespaceKinds[:], func(k NamespaceKind) bool { return k.Name == name })
	if i < 0 {
		return NamespaceKind{}, false
	}
	return namespaceKinds[i], true
}

// CheckFresh tells what is wrong with asking for a fresh namespace of the
// named kind.
func CheckFresh(name string) error {
	if k, _ := NamespaceKindOf(name); k.Fresh() {
		return nil
	}
	var fresh []string
	for _, k := range namespaceKinds {
		if k.Fresh() {
			fresh = append(fresh, k.Name)
		}
	}
	last := len(fresh) - 1
	return fmt.Errorf("unknown namespace kind %q: use %s or %s", name, strings.Join(fresh[:last], ", "), fresh[last])
}
