package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nsplay/nsplay/internal/model"
	"golang.org/x/sys/unix"
)

// Teardown removes everything the lab owns by applying the inverse of each
// journal entry, newest first, and then removes the lab's folder. What is
// inside the lab's namespaces is not removed one by one, nor are veths whose
// peer is inside one: deleting a namespace takes those along in one batch,
// where deleting each link costs the kernel an RCU grace period (tens of
// milliseconds). So after the processes are stopped, what was made after
// the newest namespace goes, then the namespaces in one batch, then what
// was made before them, and last what should have gone with them and did
// not. What is gone already is skipped. report is told of each removal.
// Teardown goes on past errors and returns them all; what is left stays in
// the journal.
func (l *Lab) Teardown(report func(string)) error {
	if err := l.BuiltHere("down", "removes nothing from here"); err != nil {
		return err
	}
	var errs []error
	done := func(e *entry, what string, err error) {
		switch {
		case err == nil && what != "": // "": nothing to undo (it goes with its namespace or link)
			report(what)
		case err == nil:
		case !errors.Is(err, model.ErrNotFound) && !errors.Is(err, os.ErrNotExist):
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
			return
		}
		errs = append(errs, l.gone(e))
	}
	newest := slices.Clone(l.entries)
	slices.Reverse(newest)
	// Processes first: they may hold what the rest would remove.
	for _, e := range newest {
		if start, ok := e.Do.(model.ProcStart); ok {
			stopped, err := l.stop(start)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if stopped {
				report(model.ProcStop(start).Text())
			}
			errs = append(errs, l.gone(e))
		}
	}
	var spaces []*entry
	var labSpaces []model.NSRef // the lab's namespaces that are there
	inLab := map[model.NSRef]bool{}
	// What each of them takes along, by the journal: known, so never nil
	// (model.NetnsDel.Along).
	along := map[model.NSRef][]model.LinkRef{}
	for _, e := range newest {
		if _, ok := e.Do.(model.NetnsAdd); ok {
			spaces = append(spaces, e)
			if l.OwnsNS(e.ns()) {
				labSpaces = append(labSpaces, e.ns())
				inLab[e.ns()] = true
				along[e.ns()] = []model.LinkRef{}
			}
		}
	}
	removeOne := func(e *entry) {
		if l.holdsLeftovers(e) {
			// What the lab could not remove from the folder is
			// reported; the folder stays in the journal with it.
			return
		}
		what, err := l.remove(e)
		done(e, what, err)
	}
	// What was made before the newest namespace goes after the
	// namespaces, rather than lose a thousand ports one by one: a bridge
	// goes while the kernel removes its ports with the namespaces, and the
	// two waits overlap.
	newestNS := -1
	for _, e := range spaces {
		newestNS = max(newestNS, e.ID)
	}
	var takenAlong, older []*entry
	ends := l.vethEnds()
	for _, e := range newest {
		switch e.Do.(type) {
		case model.ProcStart, model.NetnsAdd:
			continue
		}
		if inLab[e.ns()] {
			continue
		}
		if ns, ok := l.peerIn(e, inLab, ends); ok {
			takenAlong = append(takenAlong, e)
			if !l.trustGone(e) {
				along[ns] = append(along[ns], e.At)
			}
			continue
		}
		if e.ID < newestNS {
			older = append(older, e)
		} else {
			removeOne(e)
		}
	}
	// Processes left in the lab's namespaces (a command a killed nsplay
	// started, a shell a user opened in a kept lab) would keep them alive.
	stopped, err := l.B.StopProcessesIn(labSpaces, 2*time.Second)
	for _, p := range stopped {
		report(fmt.Sprintf("kill %d (%s) in %s", p.PID, p.Command, p.NS))
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("stop the processes in the lab's namespaces: %w", err))
	}
	for _, e := range spaces {
		if !inLab[e.ns()] {
			if _, err := l.B.Identity(e.ns()); err == nil {
				done(e, "leave netns "+e.ns().Name()+" alone: it is not the one the lab made", nil)
				continue
			}
		}
		del := model.NetnsDel{Name: e.ns().Name(), Along: along[e.ns()]}
		done(e, del.Text(), l.B.Apply(del))
	}
	for _, e := range older {
		removeOne(e)
	}
	// The kernel takes those veths along (the first look waits for it);
	// what is still there is deleted one by one.
	for _, e := range takenAlong {
		if l.trustGone(e) {
			errs = append(errs, l.gone(e))
			continue
		}
		if _, err := l.B.Link(e.At); errors.Is(err, model.ErrNotFound) {
			errs = append(errs, l.gone(e))
			continue
		}
		what, err := l.remove(e)
		done(e, what, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tear down lab %s: %w (what is left stays in its journal: remove it with `nsplay down %s`)", l.Name, err, l.Name)
	}
	l.Close()
	if l.dir == "" {
		return nil // a plan's lab
	}
	for _, f := range []string{"journal", "lock"} {
		os.Remove(filepath.Join(l.dir, f))
	}
	return os.Remove(l.dir)
}

// stop ends a process the lab spawned: through its handle when this run
// started it, else by pid and start time (after a crash).
func (l *Lab) stop(p model.ProcStart) (bool, error) {
	if h, ok := l.procs[p.PID]; ok {
		delete(l.procs, p.PID)
		return h.Stop(2 * time.Second), nil
	}
	alive := false
	if start, err := l.B.StartTime(p.PID); err == nil && start == p.Start {
		alive = true
	}
	return alive, l.apply(model.ProcStop(p))
}

// vethEnds maps each end of the veths the lab made, where it was made, to
// the entry of the other end. The lab journals a veth as one entry per end,
// each with the veth's spec; the spec names the second end, so the second
// end's entry names itself, and its other end is the first's.
func (l *Lab) vethEnds() map[model.LinkRef]*entry {
	other := map[model.LinkRef]*entry{}
	for _, e := range l.entries {
		add, ok := e.Do.(model.LinkAdd)
		if v, veth := add.Spec.(model.Veth); ok && veth && v.Peer != add.Link {
			other[add.Link] = l.ix.newestBorn(v.Peer)
			other[v.Peer] = e
		}
	}
	return other
}

// peerIn tells in which of spaces the other end of e is now, when e is a
// veth whose other end is in one of them, as the journal has it (other:
// vethEnds); a thousand reads of the kernel would cost more than the rest
// of teardown's decisions. Were the journal wrong, it would still be safe:
// a veth taken for gone with a namespace is looked for afterwards and
// deleted if there, and one not taken for gone is deleted before. A link
// of an older journal, whose kind it did not record, is read.
func (l *Lab) peerIn(e *entry, spaces map[model.NSRef]bool, other map[model.LinkRef]*entry) (model.NSRef, bool) {
	add, ok := e.Do.(model.LinkAdd)
	if !ok || len(spaces) == 0 {
		return model.NSRef{}, false
	}
	switch spec := add.Spec.(type) {
	case model.Veth:
		if end := other[e.Born]; end != nil && spaces[end.At.NS] {
			return end.At.NS, true
		}
	case model.Other:
		if spec.Of == "" || spec.Of == "veth" {
			if info, err := l.B.Link(e.At); err == nil && info.Peer != nil && spaces[info.Peer.NS] {
				return info.Peer.NS, true
			}
		}
	}
	return model.NSRef{}, false
}

// trustGone tells whether teardown takes e, a veth end that goes with one
// of the lab's namespaces, for gone without looking: when it is in the host
// and the host ends with the run (HostEnds).
func (l *Lab) trustGone(e *entry) bool { return l.HostEnds && e.At.NS.IsHost() }

// holdsLeftovers tells whether e is a folder that holds a file or folder
// the lab still owns: one whose removal failed.
func (l *Lab) holdsLeftovers(e *entry) bool {
	dir, ok := e.Do.(model.DirAdd)
	if !ok {
		return false
	}
	return l.findIn(model.Host, func(x *entry) bool {
		switch o := x.Do.(type) {
		case model.FileWrite:
			return strings.HasPrefix(o.Path, dir.Path+"/")
		case model.DirAdd:
			return strings.HasPrefix(o.Path, dir.Path+"/")
		}
		return false
	}) != nil
}

// BuiltElsewhere tells whether nsplay runs in another network namespace
// than the one the lab was built in: what the lab made in its host is not
// in this one's.
func (l *Lab) BuiltElsewhere() (bool, error) {
	hostIno, err := l.B.Identity(model.Host)
	if err != nil {
		return false, err
	}
	for _, e := range l.entries {
		if _, isNetns := e.Do.(model.NetnsAdd); !isNetns && e.ns().IsHost() && e.NSIno != 0 && e.NSIno != hostIno {
			return true, nil
		}
	}
	return false, nil
}

// BuiltHere is nil when nsplay runs in the network namespace the lab was
// built in, and else an error that says so, what nsplay does not do (not)
// and where to run `nsplay cmd LAB` instead.
func (l *Lab) BuiltHere(cmd, not string) error {
	elsewhere, err := l.BuiltElsewhere()
	if err == nil && elsewhere {
		err = fmt.Errorf("nsplay runs in another network namespace than the one lab %s was built in, and %s; run `nsplay %s %s` there", l.Name, not, cmd, l.Name)
	}
	return err
}

// remove applies an entry's inverse and says what it did.
func (l *Lab) remove(e *entry) (string, error) {
	undo := e.undo()
	if undo == nil {
		return "", nil
	}
	what := undo.Text()
	if e.NSIno != 0 {
		if ino, err := l.B.Identity(e.ns()); err == nil && ino != e.NSIno {
			// The pid of /proc/PID/ns/net was reused: not the lab's.
			if _, isLink := e.Do.(model.LinkAdd); isLink {
				return fmt.Sprintf("leave link %s alone: %s is not the namespace the lab used", e.At.Name, e.ns()), nil
			}
			return fmt.Sprintf("leave it alone (%s): %s is not the namespace the lab used", what, e.ns()), nil
		}
	}
	if _, ok := e.Do.(model.SysctlSet); ok {
		if leave, skip := l.sysctlChangedSince(e); skip {
			return leave, nil
		}
	}
	if _, ok := e.Do.(model.LinkAdd); ok && e.Index != 0 {
		// Read at once: the index is the link's, whatever deleted
		// namespaces are taking along meanwhile.
		if index, err := l.B.LinkIndex(e.At); err == nil && e.replaced(index) {
			return fmt.Sprintf("leave link %s alone: it is not the one the lab made (that one was deleted, and another made in its place)", e.At), nil
		}
	}
	err := l.B.Apply(undo)
	if _, isDir := undo.(model.DirRemove); isDir && errors.Is(err, syscall.ENOTEMPTY) {
		// Someone else's files are in it now (another lab's): it stays.
		return "leave " + e.Do.(model.DirAdd).Path + " (it holds files the lab did not write)", nil
	}
	return what, err
}

// Down tears down a lab that is not running: one kept with --keep, or left
// behind when nsplay was killed.
func Down(name string, b model.Backend, paths model.Paths, report func(string)) error {
	if _, err := os.Stat(filepath.Join(paths.Labs, name)); errors.Is(err, os.ErrNotExist) {
		return noLab(name)
	}
	l, err := Open(name, b, paths, "")
	if err != nil {
		return err
	}
	if err := l.Teardown(report); err != nil {
		l.Close()
		return err
	}
	return nil
}

// Info describes a lab that is up.
type Info struct {
	Name     string
	Playbook string
	Objects  int
	PID      int    // of the nsplay that runs or ran it
	Holder   int    // of the nsplay that holds it now: running it, or taking it down; 0 when none
	State    string // "running", "kept" (--keep), "orphaned" (nsplay was killed), or "damaged" (its journal is)
}

// List returns the labs that are up, by name.
func List(paths model.Paths) ([]Info, error) {
	names, err := labNames(paths)
	if err != nil {
		return nil, err
	}
	infos := make([]Info, len(names))
	for i, name := range names {
		infos[i], _ = readLab(paths, name)
	}
	return infos, nil
}

// labNames lists the labs that are up, by name.
func labNames(paths model.Paths) ([]string, error) {
	entries, err := os.ReadDir(paths.Labs)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// A lab is a folder of a lab's name with its lock or its journal in
	// it, which nsplay makes right after the folder. Anything else under
	// the folder of the labs (an empty folder, .hidden) is no lab to list
	// or take down.
	var names []string
	for _, e := range entries {
		if !e.IsDir() || checkLabName(e.Name()) != nil {
			continue
		}
		for _, f := range []string{"journal", "lock"} {
			if _, err := os.Lstat(filepath.Join(paths.Labs, e.Name(), f)); err == nil {
				names = append(names, e.Name())
				break
			}
		}
	}
	return names, nil
}

// readLab reads the journal of the lab that is up under that name: what it
// says of the lab, and what the lab owns.
func readLab(paths model.Paths, name string) (Info, history) {
	dir := filepath.Join(paths.Labs, name)
	h, err := replay(filepath.Join(dir, "journal"))
	if err != nil {
		return Info{Name: name, State: "damaged"}, history{}
	}
	info := Info{Name: name, Playbook: h.playbook, Objects: len(h.entries), PID: h.pid, State: "orphaned"}
	switch {
	case locked(filepath.Join(dir, "lock")):
		info.State, info.Holder = "running", holder(dir)
	case h.kept:
		info.State = "kept"
	}
	return info, h
}

// locked tells whether another process holds the lock file.
func locked(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	return false
}
