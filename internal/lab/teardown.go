package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"golang.org/x/sys/unix"
)

// Teardown removes everything the lab owns, newest first, and then the lab's
// folder. Links inside the lab's namespaces are not deleted one by one, nor
// are veths whose peer is inside one: deleting a namespace takes those along
// in one batch, where deleting each link costs the kernel an RCU grace
// period (tens of milliseconds). So namespaces go before the links that go
// with them, and Teardown waits until the kernel has removed those.
// Objects already gone are skipped. report is told of each removal in words
// an `ip` user knows. Teardown goes on past errors and returns them all.
func (l *Lab) Teardown(report func(string)) error {
	for _, o := range l.objs {
		if o.NS == HostKey && o.NSIno != 0 && o.NSIno != l.Host.Inode() {
			return fmt.Errorf("nsplay runs in another network namespace than the one lab %s was built in, and removes nothing from here; run `nsplay down %s` there", l.Name, l.Name)
		}
	}
	var errs []error
	done := func(o *Object, what string, err error) {
		switch {
		case err == nil:
			report(what)
		case !errors.Is(err, kernel.ErrNotFound) && !errors.Is(err, os.ErrNotExist):
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
			return
		}
		errs = append(errs, l.gone(o))
	}
	objs := slices.Clone(l.objs)
	slices.Reverse(objs)
	// Processes first: they may hold what the rest would remove.
	for _, o := range objs {
		if o.Kind == "proc" {
			stopped, err := l.stop(o)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if stopped {
				report(fmt.Sprintf("kill %d (%s)", o.PID, o.Name))
			}
			errs = append(errs, l.gone(o))
		}
	}
	var spaces []*Object
	var labSpaces []*kernel.NS // the lab's namespaces that are there, and its own
	for _, o := range objs {
		if o.Kind != "netns" {
			continue
		}
		spaces = append(spaces, o)
		if ns, err := l.NS("netns:" + o.Name); err == nil && (o.NSIno == 0 || ns.Inode() == o.NSIno) {
			labSpaces = append(labSpaces, ns)
		}
	}
	peers := peerFinder{labSpaces: labSpaces, ids: map[*kernel.NS]map[int]*kernel.NS{}}
	var takenAlong []takenLink
	for _, o := range objs {
		switch {
		case o.Kind == "proc", o.Kind == "netns":
		case inLabNS(o, objs):
		case o.Kind == "link" && l.takenAlong(o, &peers, &takenAlong):
		default:
			what, err := l.remove(o)
			done(o, what, err)
		}
	}
	// Processes left in the lab's namespaces (a command a killed nsplay
	// started, a shell a user opened in a kept lab) would keep them alive.
	stopped, err := kernel.StopProcessesIn(labSpaces, 2*time.Second)
	for _, p := range stopped {
		report(fmt.Sprintf("kill %d (%s) in %s", p.PID, p.Command, p.NS))
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("stop the processes in the lab's namespaces: %w", err))
	}
	for key, ns := range l.spaces {
		if key != HostKey && !slices.ContainsFunc(takenAlong, func(t takenLink) bool { return t.ns == ns }) {
			ns.Close()
			delete(l.spaces, key)
		}
	}
	for _, o := range spaces {
		if ino := kernel.NamedInode(o.Name); ino != 0 && o.NSIno != 0 && ino != o.NSIno {
			done(o, "leave netns "+o.Name+" alone: it is not the one the lab made", nil)
			continue
		}
		done(o, "ip netns del "+o.Name, kernel.DeleteNamed(o.Name))
	}
	// The kernel takes veths along in the background; if something still
	// holds a namespace, the second is up for all of them together, and what
	// is left is deleted one by one.
	deadline := time.Now().Add(time.Second)
	for _, t := range takenAlong {
		err := t.ns.WaitGone(t.link, max(time.Until(deadline), 0))
		if err == nil {
			errs = append(errs, l.gone(t.obj))
			continue
		}
		what, err := l.remove(t.obj)
		done(t.obj, what, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tear down lab %s: %w (what is left stays in its journal: run `nsplay down %s` again)", l.Name, err, l.Name)
	}
	l.journal.close()
	l.lock.Close()
	for _, f := range []string{"journal", "lock"} {
		os.Remove(filepath.Join(l.dir, f))
	}
	return os.Remove(l.dir)
}

// stop ends a process the lab spawned: through its handle when this run
// started it, else by pid and start time (after a crash).
func (l *Lab) stop(o *Object) (bool, error) {
	if p, ok := l.procs[o.PID]; ok {
		delete(l.procs, o.PID)
		return p.Stop(2 * time.Second), nil
	}
	return kernel.StopPID(o.PID, o.Start, 2*time.Second)
}

// describe names an object in a report.
func describe(o *Object) string {
	switch o.Kind {
	case "route":
		return o.Route.Dst
	case "addr":
		return o.CIDR + " dev " + o.Link
	}
	return o.Name
}

// takenLink is a link that deleting a lab namespace removes as well.
type takenLink struct {
	obj  *Object
	ns   *kernel.NS
	link kernel.LinkInfo
}

// takenAlong tells whether o is a veth whose peer sits in one of the lab's
// namespaces, and if so adds it to list.
func (l *Lab) takenAlong(o *Object, peers *peerFinder, list *[]takenLink) bool {
	ns, err := l.NS(o.NS)
	if err != nil {
		return false
	}
	info, err := ns.Link(o.Name)
	if err != nil || info.Kind != "veth" || info.PeerNetnsID < 0 {
		return false
	}
	if peers.in(ns)[info.PeerNetnsID] == nil {
		return false
	}
	*list = append(*list, takenLink{obj: o, ns: ns, link: info})
	return true
}

// peerFinder maps, for each namespace a link is in, the netns ids it knows
// to the lab's namespaces: read once per namespace, so that teardown costs
// a request per namespace rather than one per pair of them.
type peerFinder struct {
	labSpaces []*kernel.NS
	ids       map[*kernel.NS]map[int]*kernel.NS
}

func (p *peerFinder) in(from *kernel.NS) map[int]*kernel.NS {
	if m, ok := p.ids[from]; ok {
		return m
	}
	m := map[int]*kernel.NS{}
	for _, s := range p.labSpaces {
		if id, err := from.NetnsIDOf(s); err == nil && id >= 0 {
			m[id] = s
		}
	}
	p.ids[from] = m
	return m
}

// inLabNS tells whether o sits inside a namespace the lab owns.
func inLabNS(o *Object, objs []*Object) bool {
	for _, ns := range objs {
		if ns.Kind == "netns" && o.NS == "netns:"+ns.Name {
			return true
		}
	}
	return false
}

// remove deletes one object and says what it did.
func (l *Lab) remove(o *Object) (string, error) {
	switch o.Kind {
	case "file":
		return "rm " + o.Name, os.Remove(o.Name)
	case "dir":
		err := os.Remove(o.Name)
		if errors.Is(err, unix.ENOTEMPTY) {
			// Someone else's files are in it now (another lab's): it stays.
			return "leave " + o.Name + " (it holds files the lab did not write)", nil
		}
		return "rmdir " + o.Name, err
	}
	ns, err := l.NS(o.NS)
	where := o.NS
	if err == nil {
		where = ns.String()
		if o.NSIno != 0 && ns.Inode() != o.NSIno {
			// The pid of /proc/PID/ns/net was reused: not the lab's.
			return fmt.Sprintf("leave %s %s alone: %s is not the namespace the lab used", o.Kind, describe(o), where), nil
		}
	}
	switch o.Kind {
	case "link":
		what := fmt.Sprintf("ip link del %s (in %s)", o.Name, where)
		if err != nil {
			return what, err
		}
		return what, ns.DeleteLink(o.Name)
	case "route":
		what := fmt.Sprintf("ip route del %s (in %s)", o.Route.Dst, where)
		if err != nil {
			return what, err
		}
		return what, ns.DelRoute(*o.Route)
	case "addr":
		what := fmt.Sprintf("ip addr del %s dev %s (in %s)", o.CIDR, o.Link, where)
		if err != nil {
			return what, err
		}
		ipnet, perr := kernel.ParseCIDR(o.CIDR)
		if perr != nil {
			return what, perr
		}
		return what, ns.DelAddr(o.Link, ipnet)
	}
	return o.Kind, fmt.Errorf("unknown object kind %q in the journal", o.Kind)
}

// Down tears down a lab that is not running: one kept with --keep, or left
// behind when nsplay was killed.
func Down(name string, host *kernel.NS, report func(string)) error {
	if _, err := os.Stat(filepath.Join(Dir, name)); errors.Is(err, os.ErrNotExist) {
		return noLab(name)
	}
	l, err := Open(name, host, "")
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
	State    string // "running", "kept" (--keep), "orphaned" (nsplay was killed), or "damaged" (its journal is)
}

// List returns the labs that are up, by name.
func List() ([]Info, error) {
	names, err := labNames()
	var infos []Info
	for _, name := range names {
		info, _ := readLab(name)
		infos = append(infos, info)
	}
	return infos, err
}

// labNames lists the labs that are up (their folders under Dir), by name.
func labNames() ([]string, error) {
	entries, err := os.ReadDir(Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// readLab reads the journal of the lab that is up under that name: what it
// says of the lab, and what the lab owns.
func readLab(name string) (Info, history) {
	dir := filepath.Join(Dir, name)
	h, err := replay(filepath.Join(dir, "journal"))
	if err != nil {
		return Info{Name: name, State: "damaged"}, history{}
	}
	state := "orphaned"
	switch {
	case locked(filepath.Join(dir, "lock")):
		state = "running"
	case h.kept:
		state = "kept"
	}
	return Info{Name: name, Playbook: h.playbook, Objects: len(h.objs), State: state}, h
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
