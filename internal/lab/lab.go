// Package lab owns what a playbook builds: it journals every object under
// /run/nsplay/<lab>/ before creating it, refuses to change what the lab did
// not create, adopts what a kept lab already owns, and tears it all down in
// reverse order. It knows nothing of Starlark.
package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/nsplay/nsplay/internal/kernel"
	"golang.org/x/sys/unix"
)

// Dir holds one folder per lab that is up: its journal and its lock.
const Dir = "/run/nsplay"

// HostKey names the namespace nsplay started in.
const HostKey = "host"

// ErrNotOwned reports an object the lab did not create and may not change.
var ErrNotOwned = errors.New("not created by this lab")

// ErrBusy reports a lab that another nsplay process is running.
var ErrBusy = errors.New("lab is in use")

// noLab reports a lab that is not up; it matches kernel.ErrNotFound.
type noLab string

func (e noLab) Error() string { return fmt.Sprintf("no lab %s is up (see `nsplay ls`)", string(e)) }
func (e noLab) Unwrap() error { return kernel.ErrNotFound }

type busyError string

func (e busyError) Error() string { return string(e) }
func (e busyError) Unwrap() error { return ErrBusy }

// Lab is one playbook's set of kernel objects.
type Lab struct {
	Name      string
	AllowHost bool // may change and delete objects the lab did not create
	Host      *kernel.NS

	dir     string
	lock    *os.File
	journal *journal
	objs    []*Object             // live objects, in creation order
	nextID  int                   // the next object's ID
	spaces  map[string]*kernel.NS // open namespaces by key
	procs   map[int]*kernel.Proc  // processes this run spawned, by pid
	// Where this run deleted namespaces (by their closed handles) and links
	// (by "key/name"), so that a later use of them can say so.
	deletedNS    map[*kernel.NS]string
	deletedLinks map[string]string
	dad          []dadAddr // IPv6 addresses that may still wait for carrier to begin DAD
}

var labName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)

// Open takes the lab's lock and reads its journal, so that what a kept lab
// owns is adopted. host is the namespace nsplay started in.
func Open(name string, host *kernel.NS, playbook string) (*Lab, error) {
	if !labName.MatchString(name) {
		return nil, fmt.Errorf("lab name %q: use up to 64 letters, digits, '_', '.' and '-', not starting with '.' or '-'", name)
	}
	dir := filepath.Join(Dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, busyError(fmt.Sprintf("lab %s is in use: another nsplay is running it; wait for it or stop it first", name))
		}
		return nil, fmt.Errorf("lock lab %s: %w", name, err)
	}
	j, past, err := openJournal(filepath.Join(dir, "journal"))
	if err != nil {
		lock.Close()
		return nil, err
	}
	l := &Lab{Name: name, Host: host, dir: dir, lock: lock, journal: j, objs: past.objs,
		spaces: map[string]*kernel.NS{HostKey: host}, procs: map[int]*kernel.Proc{},
		deletedNS: map[*kernel.NS]string{}, deletedLinks: map[string]string{}}
	for _, o := range past.objs {
		l.nextID = max(l.nextID, o.ID+1)
	}
	if playbook == "" { // `nsplay down`: not a run
		return l, nil
	}
	if err := j.write(record{Op: "start", Playbook: playbook, PID: os.Getpid()}); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Keep releases the lab without tearing it down (--keep): the journal stays,
// and `nsplay down` or a re-run picks it up.
func (l *Lab) Keep() error {
	err := l.journal.write(record{Op: "keep"})
	l.Close()
	return err
}

// Close releases the lab without tearing it down and without marking it
// kept: used when the lab is given up on, and by Keep.
func (l *Lab) Close() {
	for key, ns := range l.spaces {
		if key != HostKey {
			ns.Close()
		}
	}
	l.spaces = map[string]*kernel.NS{HostKey: l.Host}
	if l.journal != nil { // nil for a lab opened by Inspect
		l.journal.close()
		l.lock.Close()
	}
}

// Inspect opens a lab that is up, to read it: it takes no lock and writes
// nothing, so it works while another nsplay runs the lab. Only reading
// methods (Objects, NS, Namespaces, Snapshot) may be called; Close it after.
func Inspect(name string, host *kernel.NS) (*Lab, error) {
	dir := filepath.Join(Dir, name)
	if _, err := os.Stat(dir); err != nil {
		return nil, noLab(name)
	}
	past, err := replay(filepath.Join(dir, "journal"))
	if err != nil {
		return nil, err
	}
	return &Lab{Name: name, Host: host, dir: dir, objs: past.objs, spaces: map[string]*kernel.NS{HostKey: host}}, nil
}

// Objects returns the objects the lab owns now, in creation order.
func (l *Lab) Objects() []Object {
	out := make([]Object, len(l.objs))
	for i, o := range l.objs {
		out[i] = *o
	}
	return out
}

// Key names a namespace in the journal.
func (l *Lab) Key(ns *kernel.NS) string {
	for key, n := range l.spaces {
		if n == ns {
			return key
		}
	}
	if ns.Name != "" {
		return "netns:" + ns.Name
	}
	return "path:" + ns.Path
}

// NS opens (once) the namespace a journal key names.
func (l *Lab) NS(key string) (*kernel.NS, error) {
	if ns, ok := l.spaces[key]; ok {
		return ns, nil
	}
	var ns *kernel.NS
	var err error
	switch kind, arg, _ := strings.Cut(key, ":"); kind {
	case "netns":
		ns, err = kernel.OpenNamed(arg)
	case "path":
		ns, err = kernel.Open(arg)
	default:
		err = fmt.Errorf("unknown namespace key %q in the journal", key)
	}
	if err != nil {
		return nil, err
	}
	l.spaces[key] = ns
	return ns, nil
}

// Namespaces returns the namespaces the lab has open, host first.
func (l *Lab) Namespaces() []*kernel.NS {
	keys := make([]string, 0, len(l.spaces))
	for k := range l.spaces {
		if k != HostKey {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := []*kernel.NS{l.Host}
	for _, k := range keys {
		out = append(out, l.spaces[k])
	}
	return out
}

// find returns the live object of that kind at (ns key, name), or nil.
func (l *Lab) find(kind, key, name string) *Object {
	for _, o := range l.objs {
		if o.Kind == kind && o.NS == key && o.Name == name {
			return o
		}
	}
	return nil
}

// OwnsNS tells whether the lab created the namespace.
func (l *Lab) OwnsNS(ns *kernel.NS) bool {
	if ns.Name == "" {
		return false
	}
	o := l.find("netns", "", ns.Name)
	return o != nil && (o.NSIno == 0 || o.NSIno == ns.Inode())
}

// set journals a change of an object's place or name.
func (l *Lab) set(o *Object) error {
	return l.journal.write(record{Op: "set", Obj: o})
}

// add journals an object before the caller creates it.
func (l *Lab) add(o *Object) error {
	o.ID = l.nextID
	if ns, ok := l.spaces[o.NS]; ok && o.NS != "" {
		o.NSIno = ns.Inode()
	}
	if err := l.journal.write(record{Op: "add", Obj: o}); err != nil {
		return err
	}
	l.nextID++
	l.objs = append(l.objs, o)
	return nil
}

// gone journals that an object no longer exists.
func (l *Lab) gone(o *Object) error {
	l.objs = slices.DeleteFunc(l.objs, func(x *Object) bool { return x == o })
	return l.journal.write(record{Op: "gone", Obj: &Object{ID: o.ID}})
}

// create journals o, runs make, and forgets o again if make failed.
func (l *Lab) create(o *Object, make func() error) error {
	if err := l.add(o); err != nil {
		return err
	}
	if err := make(); err != nil {
		return errors.Join(err, l.gone(o))
	}
	return nil
}

func notOwned(what, where, lab string) error {
	return ownershipError(fmt.Sprintf("%s in %s was not created by lab %s; nsplay changes only what the lab created (--allow-host lifts this)", what, where, lab))
}

// clash says that o, described as what in where, is there already and the
// lab did not create it. If another lab owns it, it names that lab and how
// to remove it; else it advises remove (if not ""). alt is the way around.
func (l *Lab) clash(o Object, what, where, remove, alt string) error {
	switch other, state := l.otherOwner(o); {
	case state == "running":
		return ownershipError(fmt.Sprintf("%s in %s belongs to lab %s, which is running: wait for it to end (or stop it), or %s", what, where, other, alt))
	case other != "":
		return ownershipError(fmt.Sprintf("%s in %s belongs to lab %s (%s): remove that lab with `nsplay down %s`, or %s", what, where, other, state, other, alt))
	case remove != "":
		alt = remove + " or " + alt
	}
	return ownershipError(fmt.Sprintf("%s already exists in %s and lab %s did not create it; %s", what, where, l.Name, alt))
}

// otherOwner finds another lab that is up and owns o, or the namespace o
// is in: its name and state ("running", "kept", "orphaned"), or "". It
// only improves a message, so a journal it cannot read is passed over.
func (l *Lab) otherOwner(o Object) (name, state string) {
	names, _ := labNames()
	for _, name := range names {
		if name == l.Name {
			continue
		}
		info, h := readLab(name)
		if slices.ContainsFunc(h.objs, func(x *Object) bool { return o.same(x) || o.inside(x) }) {
			return name, info.State
		}
	}
	return "", ""
}

// notFound says in full that an object is not there, and matches
// kernel.ErrNotFound.
type notFound string

func (e notFound) Error() string { return string(e) }
func (e notFound) Unwrap() error { return kernel.ErrNotFound }

// ownershipError says in full what the lab may not touch, and matches
// ErrNotOwned.
type ownershipError string

func (e ownershipError) Error() string { return string(e) }
func (e ownershipError) Unwrap() error { return ErrNotOwned }
