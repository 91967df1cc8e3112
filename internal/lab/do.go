package lab

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/nsplay/nsplay/internal/model"
)

// Result tells what Do did.
type Result struct {
	// Adopted is set when nothing was made: the lab has it already (a
	// re-run of a kept lab, an address or route already there).
	Adopted bool
	// At is where a link made or adopted by LinkAdd is now: a kept lab's
	// veth may have been moved and renamed since.
	At model.LinkRef
}

// Do makes one change: guard, journal, apply, undo on failure.
func (l *Lab) Do(op model.Op) (Result, error) { return l.DoAt(op, "") }

// DoAt is Do for a change a playbook makes at where (file:line): a later
// use of what it deletes says where that was.
func (l *Lab) DoAt(op model.Op, where string) (Result, error) {
	l.where = where
	defer func() { l.where = "" }()
	return l.do(op)
}

func (l *Lab) do(op model.Op) (Result, error) {
	switch o := op.(type) {
	case model.NetnsAdd:
		return l.addNetns(o)
	case model.NetnsDel:
		return Result{}, l.delNetns(o)
	case model.NetnsSetID:
		if o.NS.IsHost() {
			return Result{}, errors.New("host is the namespace the ids are given in; give one to another namespace")
		}
		if !l.AllowHost && !l.OwnsNS(o.NS) {
			return Result{}, notOwned("namespace "+o.NS.String(), model.Host, l.Name)
		}
		return Result{}, l.apply(o)
	case model.LinkAdd:
		return l.addLink(o)
	case model.LinkDel:
		return Result{}, l.delLink(o)
	case model.LinkMove:
		return Result{}, l.relocate(o, o.Link, model.Link(o.To, o.Link.Name))
	case model.LinkRename:
		if err := model.ValidLinkName(o.To); err != nil {
			return Result{}, err
		}
		return Result{}, l.relocate(o, o.Link, model.Link(o.Link.NS, o.To))
	case model.LinkSetMaster:
		if o.Master != "" {
			if err := l.mayChange(model.Link(o.Link.NS, o.Master)); err != nil {
				return Result{}, err
			}
		}
		return Result{}, l.changeLink(o.Link, o)
	case model.LinkSetUp, model.LinkSetMTU, model.BridgeSetSTP:
		return Result{}, l.changeLink(o.(model.OnLink).Target(), op)
	case model.QdiscSet:
		return Result{}, l.impair(o.Link, o)
	case model.QdiscClear:
		return Result{}, l.impair(o.Link, o)
	case model.AddrAdd:
		return l.addAddr(o)
	case model.AddrDel:
		if err := l.changeLink(o.Link, o); err != nil {
			return Result{}, err
		}
		return Result{}, l.forgetEntry(l.addrEntry(o.Link, o.CIDR))
	case model.RouteAdd:
		return l.addRoute(o)
	case model.RouteDel:
		return Result{}, l.delRoute(o)
	case model.FileWrite:
		return Result{}, l.writeFile(o)
	case model.SysctlSet:
		return Result{}, l.setSysctl(o)
	case model.IPv6Quiet:
		return Result{}, l.quietIPv6(o)
	case model.LinkSetMAC, model.NeighAdd, model.NeighDel, model.LinkNoLinkLocal, model.LinkLinkLocal, model.MLDQuietPort, model.MLDQuietPortDel:
		return Result{}, l.changeOwnLink(o.(model.OnLink).Target(), op)
	case model.MLDQuiet:
		return l.quietMLD(o)
	case model.NATRule:
		return l.addNATRule(o)
	}
	return Result{}, fmt.Errorf("lab: %T is not a change a playbook makes: %w", op, model.ErrUnsupported)
}

// apply has the backend make op. Its error names op as its step line
// would, so that the user sees which step of a builtin failed.
func (l *Lab) apply(op model.Op) error {
	if err := l.B.Apply(op); err != nil {
		return fmt.Errorf("%s: %w", op.Text(), err)
	}
	return nil
}

// create journals op, applies it, and forgets it again if that failed.
func (l *Lab) create(op model.Op, ns model.NSRef) (*entry, error) {
	e, err := l.add(op, ns)
	if err != nil {
		return nil, err
	}
	if err := l.apply(op); err != nil {
		return nil, errors.Join(err, l.gone(e))
	}
	return e, nil
}

// forgetEntry journals that e (if not nil) is gone.
func (l *Lab) forgetEntry(e *entry) error {
	if e != nil {
		return l.gone(e)
	}
	return nil
}

// addrEntry is the newest entry of the address on link, made with DAD or
// without, or nil.
func (l *Lab) addrEntry(link model.LinkRef, cidr string) *entry {
	e := l.ix.newestOp(model.AddrAdd{Link: link, CIDR: cidr})
	if nodad := l.ix.newestOp(model.AddrAdd{Link: link, CIDR: cidr, NoDAD: true}); e == nil || (nodad != nil && nodad.ID > e.ID) {
		e = nodad
	}
	return e
}

func (l *Lab) addNetns(o model.NetnsAdd) (Result, error) {
	if err := model.ValidNetnsName(o.Name); err != nil {
		return Result{}, err
	}
	ref := model.Named(o.Name)
	ino, err := l.B.Identity(ref)
	if e := l.netnsEntry(ref); e != nil {
		if err == nil && (e.NSIno == 0 || e.NSIno == ino) {
			return Result{Adopted: true}, nil
		}
		// Gone, or replaced by someone else's of the same name. Gone may
		// leave its name behind (an nsplay killed while it made or
		// deleted it): the empty file goes with the entry, so that the
		// namespace can be made again.
		if errors.Is(err, model.ErrNotFound) {
			if derr := l.B.Apply(model.NetnsDel{Name: o.Name}); derr != nil && !errors.Is(derr, model.ErrNotFound) {
				return Result{}, derr
			}
		}
		if err := l.gone(e); err != nil {
			return Result{}, err
		}
	}
	if err == nil {
		return Result{}, l.clash("namespace "+o.Name, l.Paths.RunNetns, "delete it (ip netns del "+o.Name+")", "choose another name",
			func(e *entry) bool { return e.Do == model.Op(o) }, ino)
	}
	delete(l.deletedNS, o.Name)
	e, err := l.create(o, model.Host)
	if err != nil {
		return Result{}, err
	}
	if e.NSIno, err = l.B.Identity(ref); err != nil {
		return Result{}, err
	}
	return Result{}, l.journal.write(record{Rec: "ino", ID: e.ID, NSIno: e.NSIno})
}

func (l *Lab) delNetns(o model.NetnsDel) error {
	ref := model.Named(o.Name)
	if !l.OwnsNS(ref) {
		return ownershipError(fmt.Sprintf("namespace %s was not created by lab %s, and nsplay never deletes a namespace it attached to", o.Name, l.Name))
	}
	ino, _ := l.B.Identity(ref)
	if err := l.apply(o); err != nil {
		return err
	}
	if l.where != "" {
		l.deletedNS[o.Name], l.deletedIDs[ino] = l.where, l.where
	}
	// What was in it went with it.
	var errs []error
	for _, e := range slices.Clone(l.ix.byNS[ref]) {
		errs = append(errs, l.gone(e))
	}
	return errors.Join(errs...)
}

// DeletedAt says where the playbook deleted the namespace, or "".
func (l *Lab) DeletedAt(name string) string { return l.deletedNS[name] }

// DeletedIDAt says where the playbook deleted the namespace of that
// identity, or "": also after another was made under its name.
func (l *Lab) DeletedIDAt(id uint64) string { return l.deletedIDs[id] }

// LinkDeletedAt says where the playbook deleted the link, or "".
func (l *Lab) LinkDeletedAt(link model.LinkRef) string { return l.deletedLinks[link] }

// mayChange returns an error unless the lab owns the link or --allow-host
// was given. It reads the kernel only to say why not: whether a link the
// lab owns is there is for the change itself to find out.
func (l *Lab) mayChange(link model.LinkRef) error {
	_, deleted := l.deletedLinks[link]
	if !deleted && l.deletedNS[link.NS.Name()] == "" && (l.AllowHost || l.OwnsLink(link)) {
		return nil
	}
	_, err := l.B.Link(link)
	gone := errors.Is(err, model.ErrNotFound)
	if where, ok := l.deletedLinks[link]; ok && gone {
		return notFound(fmt.Sprintf("link %s in %s was deleted at %s", link.Name, link.NS, where))
	}
	if where := l.deletedNS[link.NS.Name()]; where != "" && gone {
		return notFound(fmt.Sprintf("namespace %s was deleted at %s", link.NS, where))
	}
	if l.AllowHost || l.OwnsLink(link) {
		return nil
	}
	if gone {
		return notFound(fmt.Sprintf("there is no link %s in %s", link.Name, link.NS))
	}
	return notOwned("link "+link.Name, link.NS, l.Name)
}

// changeLink changes an attribute of a link: it goes with the link, so
// nothing is journalled.
func (l *Lab) changeLink(link model.LinkRef, op model.Op) error {
	if err := l.mayChange(link); err != nil {
		return err
	}
	return l.apply(op)
}

func (l *Lab) addLink(o model.LinkAdd) (Result, error) {
	for _, end := range o.Spec.Ends(o.Link) {
		if err := model.ValidLinkName(end.Name); err != nil {
			return Result{}, err
		}
	}
	if res, ok, err := l.adoptLink(o); ok || err != nil {
		return res, err
	}
	// A link made on a parent changes the parent (it takes what arrives
	// there): the parent must be the lab's.
	if p, ok := o.Spec.(model.OnParent); ok {
		if err := l.mayChange(p.ParentLink()); err != nil {
			return Result{}, fmt.Errorf("the parent of %s: %w", o.Link.Name, err)
		}
	}
	ends := o.Spec.Ends(o.Link)
	if res, taken, err := l.nameTaken(o, ends, false); taken {
		return res, err
	}
	// Every end is journalled, so that teardown finds each wherever it
	// goes; the first entry makes them all.
	var made []*entry
	for i, end := range ends {
		op := model.Op(o)
		if i > 0 {
			op = model.LinkAdd{Link: end, Spec: o.Spec}
		}
		e, err := l.add(op, end.NS)
		if err != nil {
			return Result{}, err
		}
		made = append(made, e)
	}
	if err := l.apply(o); err != nil {
		var forgot error
		for _, e := range made {
			forgot = errors.Join(forgot, l.gone(e))
		}
		if forgot == nil && errors.Is(err, model.ErrExists) {
			if res, taken, terr := l.nameTaken(o, ends, true); taken {
				return res, terr
			}
		}
		return Result{}, errors.Join(err, forgot)
	}
	for _, e := range made {
		if err := l.noteIndex(e); err != nil {
			return Result{}, err
		}
	}
	return Result{At: o.Link}, nil
}

// nameTaken looks for a link that has the name of one of the ends already:
// the lab's first end in its own namespace is adopted, anything else is
// an error, decided by the first end taken. Before a veth is made (all
// false), it reads only the ends outside the namespaces the lab made
// (all of them once one is taken), which saves a read per host of a star:
// a link of that name in the lab's namespace, had the lab journalled the
// end before the kernel refused it, goes with the namespace at teardown
// anyway, and the kernel refuses a veth end a name taken (ErrExists),
// after which all ends are looked at. Other kinds are looked at first:
// the kernel backend cannot make some (a loopback) and makes a tun/tap by
// an ioctl that attaches to one of that name instead of refusing it.
func (l *Lab) nameTaken(o model.LinkAdd, ends []model.LinkRef, all bool) (Result, bool, error) {
	if _, veth := o.Spec.(model.Veth); veth && !all && !l.takenOutside(ends) {
		return Result{}, false, nil
	}
	for i, end := range ends {
		if _, err := l.B.Link(end); err != nil {
			continue
		}
		switch {
		case i == 0 && l.OwnsNS(end.NS):
			return Result{Adopted: true, At: end}, true, nil
		case i > 0 && l.OwnsLink(end):
			return Result{}, true, fmt.Errorf("the lab has a link %s in %s already: choose another peer name", end.Name, end.NS)
		}
		alt := "choose another name"
		if i > 0 {
			alt = "choose another peer name"
		}
		return Result{}, true, l.clash("link "+end.Name, end.NS.String(), "delete it", alt,
			func(e *entry) bool { return e.At == end }, l.identity(end.NS))
	}
	return Result{}, false, nil
}

// takenOutside tells whether one of ends outside the lab's namespaces
// has a link of its name there already.
func (l *Lab) takenOutside(ends []model.LinkRef) bool {
	for _, end := range ends {
		if l.OwnsNS(end.NS) {
			continue
		}
		if _, err := l.B.Link(end); err == nil {
			return true
		}
	}
	return false
}

// adoptLink finds a link the lab made as o.Link before (a kept lab), where
// it is now. One of another kind was put there from outside in place of
// the lab's: the lab forgets it. One made with other ends than o asks for
// (a veth with another peer) is an error: the playbook changed.
func (l *Lab) adoptLink(o model.LinkAdd) (Result, bool, error) {
	for _, e := range slices.Clone(l.ix.byBorn[o.Link]) {
		info, err := l.B.Link(e.At)
		if err == nil && e.NSIno != 0 {
			if ino, ierr := l.B.Identity(e.At.NS); ierr != nil || ino != e.NSIno {
				err = model.ErrNotFound // its namespace is gone; this is another
			}
		}
		if err == nil && e.replaced(info.Index) {
			err = model.ErrNotFound // deleted, and another made in its place
		}
		switch {
		case err == nil && info.Kind == o.Spec.Kind() && info.KindAttrs != model.AttrsOf(o.Spec):
			return Result{}, true, fmt.Errorf("%s is the lab's already, but a %s with %s, not %s; take the lab down (nsplay down %s) to make it anew, or choose another name",
				e.At, info.Kind, info.KindAttrs, model.AttrsOf(o.Spec), l.Name)
		case err == nil && info.Kind == o.Spec.Kind():
			if why := e.Do.(model.LinkAdd).Mismatch(o); why != "" {
				now := ""
				if e.At != o.Link {
					now = " (now " + e.At.String() + ")"
				}
				return Result{}, true, fmt.Errorf("%s %s%s is the lab's from an earlier run, but %s: take the kept lab down first (nsplay down %s), or choose another name", o.Spec.Kind(), o.Link.Name, now, why, l.Name)
			}
			return Result{Adopted: true, At: e.At}, true, nil
		case err == nil:
			return Result{}, true, errors.Join(fmt.Errorf("%s is a %s, not a %s, and the lab did not make it so; delete it or choose another name", e.At, info.Kind, o.Spec.Kind()), l.gone(e))
		case !errors.Is(err, model.ErrNotFound):
			return Result{}, true, err
		}
		if err := l.gone(e); err != nil {
			return Result{}, true, err
		}
	}
	return Result{}, false, nil
}

func (l *Lab) delLink(o model.LinkDel) error {
	if err := l.mayChange(o.Link); err != nil {
		return err
	}
	info, err := l.B.Link(o.Link)
	if err != nil {
		return err
	}
	if err := l.apply(o); err != nil {
		return err
	}
	ends := []model.LinkRef{o.Link}
	if info.Peer != nil {
		ends = append(ends, *info.Peer)
	}
	var errs []error
	for _, end := range ends {
		if l.where != "" {
			l.deletedLinks[end] = l.where
		}
		errs = append(errs, l.forgetEntry(l.linkEntry(end)))
	}
	return errors.Join(errs...)
}

// relocate moves or renames a link, journalled first and again with the
// roles swapped if the kernel refused. A link inside a lab namespace, which
// the lab does not track, starts being tracked, so that teardown finds it
// if it left the lab's namespaces; a link the lab did not create (moved
// with --allow-host) stays untracked, so that teardown leaves it alone.
func (l *Lab) relocate(op model.Op, from, to model.LinkRef) error {
	if err := l.mayChange(from); err != nil {
		return err
	}
	e := l.linkEntry(from)
	if e == nil && l.OwnsNS(from.NS) {
		info, err := l.B.Link(from)
		if err != nil {
			return err
		}
		if e, err = l.add(model.LinkAdd{Link: from, Spec: model.Other{Of: info.Kind}}, from.NS); err != nil {
			return err
		}
	}
	if e != nil {
		if err := l.moved(e, to); err != nil {
			return err
		}
	}
	if err := l.apply(op); err != nil {
		if e != nil {
			err = errors.Join(err, l.moved(e, from), l.noteIndex(e))
		}
		return err
	}
	if e != nil {
		return l.noteIndex(e)
	}
	return nil
}

func (l *Lab) addAddr(o model.AddrAdd) (Result, error) {
	if err := l.mayChange(o.Link); err != nil {
		return Result{}, err
	}
	if _, err := model.ParseCIDR(o.CIDR); err != nil {
		return Result{}, err
	}
	same := func(e *entry) bool {
		a, ok := e.Do.(model.AddrAdd)
		return ok && a.Link == o.Link && a.CIDR == o.CIDR
	}
	if l.addrEntry(o.Link, o.CIDR) != nil {
		return Result{Adopted: true}, nil
	}
	if l.OwnsLink(o.Link) {
		err := l.apply(o)
		if errors.Is(err, model.ErrExists) {
			return Result{Adopted: true}, nil
		}
		return Result{}, err
	}
	_, err := l.create(o, o.Link.NS)
	if errors.Is(err, model.ErrExists) {
		return Result{}, l.clash("address "+o.CIDR+" on "+o.Link.Name, o.Link.NS.String(), "", "choose another address", same, l.identity(o.Link.NS))
	}
	return Result{}, err
}

// addRoute adds a route. Outside the lab's namespaces it is journalled so
// teardown removes it. An identical route the lab owns is adopted.
func (l *Lab) addRoute(o model.RouteAdd) (Result, error) {
	delete(l.deletedRoutes, o.Text())
	if l.OwnsNS(o.NS) {
		err := l.apply(o)
		if errors.Is(err, model.ErrExists) {
			return Result{Adopted: true}, nil
		}
		return Result{}, err
	}
	same := func(e *entry) bool { return e.Do == model.Op(o) }
	if l.ix.newestOp(o) != nil {
		return Result{Adopted: true}, nil
	}
	_, err := l.create(o, o.NS)
	if errors.Is(err, model.ErrExists) {
		return Result{}, l.clash("route "+o.Route.Dst, o.NS.String(), "", "choose another destination or metric", same, l.identity(o.NS))
	}
	return Result{}, err
}

// delRoute deletes a route the lab added, or any route of a namespace the
// lab owns; other routes only with --allow-host.
func (l *Lab) delRoute(o model.RouteDel) error {
	mine := l.ix.newestOp(model.RouteAdd(o))
	key := model.RouteAdd(o).Text()
	if where := l.deletedRoutes[key]; where != "" && mine == nil {
		return notFound(fmt.Sprintf("route %s in %s was deleted at %s", o.Route.Dst, o.NS, where))
	}
	if mine == nil && !l.OwnsNS(o.NS) && !l.AllowHost {
		return notOwned("route "+o.Route.Dst, o.NS, l.Name)
	}
	if err := l.apply(o); err != nil {
		return err
	}
	if l.where != "" {
		l.deletedRoutes[key] = l.where
	}
	if mine != nil {
		return l.gone(mine)
	}
	return nil
}

// writeFile writes a file the lab owns, creating and journalling the
// folders that are missing. A file the lab did not create is not replaced.
func (l *Lab) writeFile(o model.FileWrite) error {
	mine := func(e *entry) bool { w, ok := e.Do.(model.FileWrite); return ok && w.Path == o.Path }
	if l.findIn(model.Host, mine) != nil {
		return l.apply(o)
	}
	clash := func(path string) error {
		return l.clash("file "+path, "the file system", "remove it", "write elsewhere", mine, 0)
	}
	if _, err := l.B.ReadFile(o.Path); !errors.Is(err, model.ErrNotFound) {
		if _, derr := l.B.ReadDir(filepath.Dir(o.Path)); derr != nil && !errors.Is(derr, model.ErrNotFound) {
			return clash(filepath.Dir(o.Path)) // a file where the folder would be
		}
		return clash(o.Path)
	}
	if err := l.makeDirs(filepath.Dir(o.Path)); err != nil {
		return err
	}
	_, err := l.create(o, model.Host)
	if errors.Is(err, model.ErrExists) {
		return clash(o.Path) // made since the read above
	}
	return err
}

func (l *Lab) makeDirs(dir string) error {
	if _, err := l.B.ReadDir(dir); err == nil || !errors.Is(err, model.ErrNotFound) {
		return nil
	}
	if err := l.makeDirs(filepath.Dir(dir)); err != nil {
		return err
	}
	_, err := l.create(model.DirAdd{Path: dir}, model.Host)
	return err
}

// Spawned journals a process the lab started, so that teardown stops it,
// also after nsplay was killed. command names it in reports.
func (l *Lab) Spawned(p model.Proc, command string) error {
	if p.PID() == 0 {
		return nil // a plan's: there is nothing to stop
	}
	start, err := l.B.StartTime(p.PID())
	if err != nil {
		return nil // it has ended already
	}
	l.procs[p.PID()] = p
	_, err = l.add(model.ProcStart{PID: p.PID(), Start: start, Command: command}, model.Host)
	return err
}

// identity is the namespace's identity, 0 when it is not there.
func (l *Lab) identity(ns model.NSRef) uint64 {
	ino, _ := l.B.Identity(ns)
	return ino
}

// clash says that what, in where, is there already and the lab did not
// create it. If another lab owns it (match finds it in that lab's journal),
// or owns the namespace of identity nsIno it is in, it names that lab and
// how to remove it; else it advises remove (if not ""). alt is the way
// around.
func (l *Lab) clash(what, where, remove, alt string, match func(*entry) bool, nsIno uint64) error {
	switch other, state := l.otherOwner(match, nsIno); {
	case state == "running":
		return ownershipError(fmt.Sprintf("%s in %s belongs to lab %s, which is running: wait for it to end (or stop it), or %s", what, where, other, alt))
	case other != "":
		return ownershipError(fmt.Sprintf("%s in %s belongs to lab %s (%s): remove that lab with `nsplay down %s`, or %s", what, where, other, state, other, alt))
	case remove != "":
		alt = remove + " or " + alt
	}
	return ownershipError(fmt.Sprintf("%s already exists in %s and lab %s did not create it; %s", what, where, l.Name, alt))
}

// otherOwner finds another lab that is up and owns what match matches, or
// the namespace of identity nsIno: its name and state ("running", "kept",
// "orphaned"), or "". It only improves a message, so a journal it cannot
// read is passed over.
func (l *Lab) otherOwner(match func(*entry) bool, nsIno uint64) (name, state string) {
	names, _ := labNames(l.Paths)
	for _, name := range names {
		if name == l.Name {
			continue
		}
		info, h := readLab(l.Paths, name)
		for _, e := range h.entries {
			_, isNetns := e.Do.(model.NetnsAdd)
			if match(e) || (isNetns && nsIno != 0 && e.NSIno == nsIno) {
				return name, info.State
			}
		}
	}
	return "", ""
}
