// Package lab is nsplay's only transaction layer: every change a playbook
// makes goes through Do, which checks that the lab may make it (guard),
// journals what will outlive the step under the lab's folder before it is
// made (journal), has the backend make it (apply), and forgets it again if
// the backend refused (undo). Teardown replays the inverses of what the
// journal holds, newest first. It knows nothing of Starlark, and nothing of
// netlink: the backend does the work.
package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nsplay/nsplay/internal/model"
	"golang.org/x/sys/unix"
)

// ErrNotOwned reports an object the lab did not create and may not change.
var ErrNotOwned = errors.New("not created by this lab")

// ErrBusy reports a lab that another nsplay process is running.
var ErrBusy = errors.New("lab is in use")

// noLab reports a lab that is not up; it matches model.ErrNotFound.
type noLab string

func (e noLab) Error() string { return fmt.Sprintf("no lab %s is up (see `nsplay ls`)", string(e)) }
func (e noLab) Unwrap() error { return model.ErrNotFound }

type busyError string

func (e busyError) Error() string { return string(e) }
func (e busyError) Unwrap() error { return ErrBusy }

// Lab is one playbook's set of kernel objects.
type Lab struct {
	Name      string
	AllowHost bool // may change and delete objects the lab did not create
	B         model.Backend
	Paths     model.Paths
	// Keeping: the run keeps the lab (--keep), so the processes it spawns
	// are to outlive nsplay, until `nsplay down` stops them.
	Keeping bool
	// HostEnds: the host namespace ends with this run (a sandbox's, in
	// `nsplay run --sandbox`), and nothing outside can see it. Teardown
	// then takes the journal's word that the veth ends the lab's
	// namespaces take along go with them, and does not wait for the kernel
	// to remove them from the host (at 1000 hosts a fifth of a second).
	HostEnds bool

	dir     string
	lock    *os.File
	journal *journal // nil for a lab opened by Inspect
	entries []*entry // live, in creation order (so by ID)
	ix      index    // entries by what they made (index.go)
	nextID  int
	firstID int                // the ID of this run's first entry
	procs   map[int]model.Proc // processes this run started, by pid
	// Where the playbook deleted namespaces (by name) and links, so that a
	// later use of their handles can say so.
	deletedNS    map[string]string
	deletedLinks map[model.LinkRef]string
	// deletedRoutes: by the text of the route's `ip route add`.
	deletedRoutes map[string]string
	deletedIDs    map[uint64]string // namespaces by identity
	where         string            // the playbook position of the change DoAt makes now
}

// checkLabName allows up to 64 letters, digits, '_', '.' and '-', not
// starting with '.' or '-': a lab's name is a folder's name. A plain loop,
// not a regular expression compiled when the package loads: every command
// exec_in and spawn start runs nsplay's binary first (kernel's exec
// helper), and with it every package's initialisation.
func checkLabName(name string) error {
	ok := len(name) >= 1 && len(name) <= 64 && name[0] != '.' && name[0] != '-'
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-'
	}
	if !ok {
		return fmt.Errorf("lab name %q: use up to 64 letters, digits, '_', '.' and '-', not starting with '.' or '-'", name)
	}
	return nil
}

// Open takes the lab's lock and reads its journal, so that what a kept lab
// owns is adopted. An empty playbook opens it for `nsplay down`. Paths
// without a Labs folder give a lab whose journal lives in memory (a plan:
// nothing on the machine changes).
func Open(name string, b model.Backend, paths model.Paths, playbook string) (*Lab, error) {
	if err := checkLabName(name); err != nil {
		return nil, err
	}
	if paths.Labs == "" {
		l := newLab(name, b, paths, "", history{})
		l.journal = &journal{}
		return l, nil
	}
	dir := filepath.Join(paths.Labs, name)
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
			return nil, busyError(busyMessage(name, holder(dir)))
		}
		return nil, fmt.Errorf("lock lab %s: %w", name, err)
	}
	j, past, err := openJournal(filepath.Join(dir, "journal"))
	if err != nil {
		lock.Close()
		return nil, err
	}
	l := newLab(name, b, paths, dir, past)
	l.lock, l.journal = lock, j
	if playbook == "" { // `nsplay down`: not a run
		return l, nil
	}
	if err := j.write(record{Rec: "start", Playbook: playbook, PID: os.Getpid()}); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// busyMessage refuses a lab that the nsplay process pid holds (0: not
// known).
func busyMessage(name string, pid int) string {
	if pid == 0 {
		return fmt.Sprintf("lab %s is in use: another nsplay is running it; wait for it or stop it first", name)
	}
	return fmt.Sprintf("lab %s is in use: nsplay (pid %d) is running it; wait for it to end, or stop it (kill %d)", name, pid, pid)
}

// holder is the pid of the nsplay that holds the lock of the lab in dir,
// as /proc/locks tells (in nsplay's PID namespace), or else the pid of its
// journal's last run; 0 if neither tells.
func holder(dir string) int {
	if pid := flockHolder(filepath.Join(dir, "lock")); pid > 0 {
		return pid
	}
	h, _ := replay(filepath.Join(dir, "journal"))
	return h.pid
}

// flockHolder finds the process that holds a flock on the file at path
// in /proc/locks, whose lines read "1: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE
// 0 EOF" (device numbers in hex); 0 if none does.
func flockHolder(path string) int {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return 0
	}
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0
	}
	file := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) >= 6 && f[1] == "FLOCK" && f[5] == file {
			pid, _ := strconv.Atoi(f[4])
			return pid
		}
	}
	return 0
}

func newLab(name string, b model.Backend, paths model.Paths, dir string, past history) *Lab {
	l := &Lab{Name: name, B: b, Paths: paths, dir: dir, entries: past.entries, ix: newIndex(past.entries), procs: map[int]model.Proc{},
		deletedNS: map[string]string{}, deletedLinks: map[model.LinkRef]string{}, deletedRoutes: map[string]string{}, deletedIDs: map[uint64]string{}}
	for _, e := range past.entries {
		l.nextID = max(l.nextID, e.ID+1)
	}
	l.firstID = l.nextID
	return l
}

// Inspect opens a lab that is up, to read it: it takes no lock and writes
// nothing, so it works while another nsplay runs the lab. Only reading
// methods (Snapshot, Owned) may be called.
func Inspect(name string, b model.Backend, paths model.Paths) (*Lab, error) {
	dir := filepath.Join(paths.Labs, name)
	if _, err := os.Stat(dir); err != nil {
		return nil, noLab(name)
	}
	past, err := replay(filepath.Join(dir, "journal"))
	if err != nil {
		return nil, err
	}
	return newLab(name, b, paths, dir, past), nil
}

// Keep releases the lab without tearing it down (--keep): the journal
// stays, and `nsplay down` or a re-run picks it up.
func (l *Lab) Keep() error {
	err := l.journal.write(record{Rec: "keep"})
	l.Close()
	return err
}

// Empty tells whether the lab owns nothing.
func (l *Lab) Empty() bool { return len(l.entries) == 0 }

// Close releases the lab without tearing it down and without marking it
// kept: used when the lab is given up on, and by Keep.
func (l *Lab) Close() {
	if l.journal != nil {
		l.journal.close()
		if l.lock != nil {
			l.lock.Close()
		}
		l.journal = nil
	}
}

// LinksIn lists the links the lab made that are in ns now, by name.
func (l *Lab) LinksIn(ns model.NSRef) []string {
	var names []string
	for _, e := range l.entries {
		if _, ok := e.Do.(model.LinkAdd); ok && e.At.NS == ns {
			names = append(names, e.At.Name)
		}
	}
	return names
}

// Namespaces lists the namespaces the lab created, by name, in creation
// order.
func (l *Lab) Namespaces() []string {
	var names []string
	for _, e := range l.entries {
		if o, ok := e.Do.(model.NetnsAdd); ok {
			names = append(names, o.Name)
		}
	}
	return names
}

// OwnsNS tells whether the lab created the namespace, and it is still the
// one it created.
func (l *Lab) OwnsNS(ns model.NSRef) bool {
	if l.netnsEntry(ns) == nil {
		return false
	}
	ino, err := l.B.Identity(ns)
	return err == nil && l.MadeNS(ns, ino)
}

// MadeNS tells whether the namespace with that identity (the backend's
// Identity) is the one the lab created under the name of ns: OwnsNS for a
// namespace the caller holds open already (nsplay exec), so that no other
// namespace can take the name between the check and the use.
func (l *Lab) MadeNS(ns model.NSRef, identity uint64) bool {
	e := l.netnsEntry(ns)
	return e != nil && (e.NSIno == 0 || e.NSIno == identity)
}

func (l *Lab) netnsEntry(ns model.NSRef) *entry {
	if ns.Name() == "" {
		return nil
	}
	return l.ix.newestOp(model.NetnsAdd{Name: ns.Name()})
}

// OwnsLink tells whether the lab may treat the link as its own: it created
// it, or it is inside a namespace the lab created.
func (l *Lab) OwnsLink(link model.LinkRef) bool {
	return l.OwnsNS(link.NS) || l.linkEntry(link) != nil
}

func (l *Lab) linkEntry(link model.LinkRef) *entry {
	return l.ix.newestLink(link)
}

// findIn returns the newest live entry in ns that matches.
func (l *Lab) findIn(ns model.NSRef, match func(*entry) bool) *entry {
	es := l.ix.byNS[ns]
	for i := len(es) - 1; i >= 0; i-- {
		if match(es[i]) {
			return es[i]
		}
	}
	return nil
}

// add journals an entry before the caller makes what it records.
func (l *Lab) add(op model.Op, ns model.NSRef) (*entry, error) {
	e := &entry{ID: l.nextID, Do: op}
	if add, ok := op.(model.LinkAdd); ok {
		e.At, e.Born = add.Link, add.Link
	}
	if _, isNetns := op.(model.NetnsAdd); !isNetns {
		if ino, err := l.B.Identity(ns); err == nil {
			e.NSIno = ino
		}
	}
	if err := l.journal.write(record{Rec: "do", ID: e.ID, Op: &model.Recorded{Op: op}, NSIno: e.NSIno}); err != nil {
		return nil, err
	}
	l.nextID++
	l.entries = append(l.entries, e)
	l.ix.add(e)
	return e, nil
}

// gone journals that what an entry records is no longer there.
func (l *Lab) gone(e *entry) error {
	i, ok := slices.BinarySearchFunc(l.entries, e.ID, func(x *entry, id int) int { return x.ID - id })
	if !ok || l.entries[i] != e {
		i = slices.Index(l.entries, e) // not in ID order: an old journal's
	}
	if i >= 0 {
		l.entries = slices.Delete(l.entries, i, i+1)
		l.ix.remove(e)
	}
	return l.journal.write(record{Rec: "gone", ID: e.ID})
}

// moved journals where a link entry is now. A rename keeps the link's
// index; a move may change it, which noteIndex then journals.
func (l *Lab) moved(e *entry, at model.LinkRef) error {
	if at.NS != e.At.NS {
		e.Index = 0
	}
	l.ix.move(e, at)
	if ino, err := l.B.Identity(at.NS); err == nil {
		e.NSIno = ino
	}
	return l.journal.write(record{Rec: "at", ID: e.ID, At: &at, NSIno: e.NSIno, Index: e.Index})
}

// noteIndex journals the index of a link entry's link, made or moved just
// now, when it is outside the lab's namespaces (Index).
func (l *Lab) noteIndex(e *entry) error {
	if e.Index != 0 || l.OwnsNS(e.At.NS) {
		return nil
	}
	index, err := l.B.LinkIndex(e.At)
	if err != nil {
		return err
	}
	e.Index = index
	return l.journal.write(record{Rec: "index", ID: e.ID, Index: e.Index})
}

// replaced tells whether the link at a link entry's place, of that
// index, is not the one the lab made there: its index is another.
func (e *entry) replaced(index int) bool {
	return e.Index != 0 && index != e.Index
}

// ownershipError says in full what the lab may not touch, and matches
// ErrNotOwned.
type ownershipError string

func (e ownershipError) Error() string { return string(e) }
func (e ownershipError) Unwrap() error { return ErrNotOwned }

// notFound says in full that an object is not there, and matches
// model.ErrNotFound.
type notFound string

func (e notFound) Error() string { return string(e) }
func (e notFound) Unwrap() error { return model.ErrNotFound }

func notOwned(what string, where model.NSRef, lab string) error {
	return ownershipError(fmt.Sprintf("%s in %s was not created by lab %s; nsplay changes only what the lab created (--allow-host lifts this)", what, where, lab))
}
