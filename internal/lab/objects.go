package lab

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"

	"github.com/nsplay/nsplay/internal/kernel"
)

// Netns returns the lab's namespace of that name, creating it unless the
// lab already owns it. adopted tells that it was there already.
func (l *Lab) Netns(name string) (ns *kernel.NS, adopted bool, err error) {
	key := "netns:" + name
	if ns, ok := l.spaces[key]; ok && l.OwnsNS(ns) {
		return ns, true, nil
	}
	if err := kernel.ValidNetnsName(name); err != nil {
		return nil, false, err
	}
	if o := l.find("netns", "", name); o != nil {
		if ino := kernel.NamedInode(name); ino != 0 && (o.NSIno == 0 || o.NSIno == ino) {
			ns, err := l.NS(key)
			return ns, true, err
		}
		// Gone, or replaced by someone else's of the same name.
		if err := l.gone(o); err != nil {
			return nil, false, err
		}
	}
	if kernel.NamedExists(name) {
		return nil, false, l.clash(Object{Kind: "netns", Name: name, NSIno: kernel.NamedInode(name)}, "namespace "+name, kernel.RunDir,
			"delete it (ip netns del "+name+")", "choose another name")
	}
	o := &Object{Kind: "netns", Name: name}
	err = l.create(o, func() (err error) {
		ns, err = kernel.CreateNamed(name)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	l.spaces[key] = ns
	o.NSIno = ns.Inode()
	return ns, false, l.set(o)
}

// Attach opens a namespace the lab does not own (netns(pid=) or
// netns(path=)); the lab never deletes it.
func (l *Lab) Attach(path string) (*kernel.NS, error) {
	ns, err := kernel.Open(path)
	if err != nil {
		return nil, err
	}
	for _, open := range l.spaces {
		if open.Same(ns) {
			ns.Close()
			return open, nil
		}
	}
	l.spaces["path:"+path] = ns
	return ns, nil
}

// OwnsLink tells whether the lab may treat the link as its own: it created
// it, or it is inside a namespace the lab created.
func (l *Lab) OwnsLink(ns *kernel.NS, name string) bool {
	return l.OwnsNS(ns) || l.find("link", l.Key(ns), name) != nil
}

// MayChange returns an error unless the lab owns the link or --allow-host
// was given. A link that is not there, or no longer (the lab deleted it,
// and where), is an error of its own, which matches kernel.ErrNotFound.
func (l *Lab) MayChange(ns *kernel.NS, link string) error {
	if err := l.NSErr(ns); err != nil {
		return err
	}
	if where, ok := l.deletedLinks[l.Key(ns)+"/"+link]; ok && !linkExists(ns, link) {
		return notFound(fmt.Sprintf("link %s in %s was deleted at %s", link, ns, where))
	}
	if l.AllowHost || l.OwnsLink(ns, link) {
		return nil
	}
	if !linkExists(ns, link) {
		return notFound(fmt.Sprintf("there is no link %s in %s", link, ns))
	}
	return notOwned("link "+link, ns.String(), l.Name)
}

func linkExists(ns *kernel.NS, link string) bool {
	_, err := ns.Link(link)
	return !errors.Is(err, kernel.ErrNotFound)
}

// NSErr is nil while ns may be used, and otherwise says why not (see
// kernel.NS.Err) and, for a namespace this run deleted, where.
func (l *Lab) NSErr(ns *kernel.NS) error {
	err := ns.Err()
	if where, ok := l.deletedNS[ns]; ok && err != nil {
		return fmt.Errorf("%w at %s", err, where)
	}
	return err
}

// MayDeleteNS returns an error unless the lab created the namespace: one it
// attached to it never deletes, --allow-host or not.
func (l *Lab) MayDeleteNS(ns *kernel.NS) error {
	if l.OwnsNS(ns) {
		return nil
	}
	return ownershipError(fmt.Sprintf("namespace %s was not created by lab %s, and nsplay never deletes a namespace it attached to", ns, l.Name))
}

// MayChangeNS returns an error unless the lab created the namespace or
// --allow-host was given: what set_id changes belongs to the namespace.
func (l *Lab) MayChangeNS(ns *kernel.NS) error {
	if l.AllowHost || l.OwnsNS(ns) {
		return nil
	}
	return notOwned("namespace "+ns.String(), kernel.RunDir, l.Name)
}

// LinkSpec is a link to create.
type LinkSpec struct {
	NS   *kernel.NS
	Name string
	Kind string // what it is, for messages: "bridge", "veth"
	// Peer and PeerNS are the other end of a veth.
	Peer   string
	PeerNS *kernel.NS
}

// CreateLink creates the link with make, journalled first. When the lab
// already owns a link born as spec.Name in spec.NS, nothing is created: it
// returns where that link is now (a kept lab's veth may have been moved and
// renamed since) and adopted. A link of that name the lab does not own is
// an error.
func (l *Lab) CreateLink(spec LinkSpec, make func() error) (ns *kernel.NS, name string, adopted bool, err error) {
	born := l.Key(spec.NS) + "/" + spec.Name
	for _, o := range slices.Clone(l.objs) {
		if o.Kind != "link" || o.Born != born {
			continue
		}
		now, err := l.NS(o.NS)
		if err == nil && o.NSIno != 0 && now.Inode() != o.NSIno {
			err = kernel.ErrNotFound // its namespace is gone; this is another
		}
		if err == nil {
			if _, err = now.Link(o.Name); err == nil {
				return now, o.Name, true, nil
			}
		}
		if !errors.Is(err, kernel.ErrNotFound) {
			return nil, "", false, err
		}
		if err := l.gone(o); err != nil {
			return nil, "", false, err
		}
	}
	ends := []*Object{{Kind: "link", NS: l.Key(spec.NS), Name: spec.Name, Born: born, NSIno: spec.NS.Inode()}}
	if spec.Peer != "" {
		ends = append(ends, &Object{Kind: "link", NS: l.Key(spec.PeerNS), Name: spec.Peer, Born: l.Key(spec.PeerNS) + "/" + spec.Peer, NSIno: spec.PeerNS.Inode()})
	}
	if _, err := spec.NS.Link(spec.Name); err == nil {
		if l.OwnsNS(spec.NS) {
			return spec.NS, spec.Name, true, nil
		}
		return nil, "", false, l.clash(*ends[0], "link "+spec.Name, spec.NS.String(), "delete it", "choose another name")
	}
	if spec.Peer != "" {
		if _, err := spec.PeerNS.Link(spec.Peer); err == nil {
			if !l.OwnsLink(spec.PeerNS, spec.Peer) {
				return nil, "", false, l.clash(*ends[1], "link "+spec.Peer, spec.PeerNS.String(), "delete it", "choose another peer name")
			}
			return nil, "", false, fmt.Errorf("the lab has a link %s in %s already: choose another peer name", spec.Peer, spec.PeerNS)
		}
	}
	for _, o := range ends {
		if err := l.add(o); err != nil {
			return nil, "", false, err
		}
	}
	if err := make(); err != nil {
		for _, o := range ends {
			err = errors.Join(err, l.gone(o))
		}
		return nil, "", false, err
	}
	return spec.NS, spec.Name, false, nil
}

// LinkMoved records that a link goes to another namespace or name; the
// caller journals it before the change, and again with the roles swapped if
// the change failed. A link inside a lab namespace, which the lab does not
// track, starts being tracked, so that teardown finds it if it left the
// lab's namespaces; a link the lab did not create (moved with --allow-host)
// stays untracked, so that teardown leaves it alone.
func (l *Lab) LinkMoved(from *kernel.NS, name string, to *kernel.NS, newName string) error {
	for i, a := range l.dad {
		if a.ns.Same(from) && a.link == name {
			l.dad[i].ns, l.dad[i].link = to, newName
		}
	}
	o := l.find("link", l.Key(from), name)
	if o == nil {
		if !l.OwnsNS(from) {
			return nil
		}
		return l.add(&Object{Kind: "link", NS: l.Key(to), Name: newName, Born: l.Key(from) + "/" + name, NSIno: to.Inode()})
	}
	o.NS, o.Name, o.NSIno = l.Key(to), newName, to.Inode()
	return l.set(o)
}

// LinkDeleted records that a link (and, for a veth, its peer) is gone:
// deleted at where, which a later use names, or "" when the lab only
// forgets a link that is not its own.
func (l *Lab) LinkDeleted(ns *kernel.NS, name string, peerNS *kernel.NS, peer string, where string) error {
	err := l.linkDeleted(ns, name, where)
	if peerNS != nil {
		err = errors.Join(err, l.linkDeleted(peerNS, peer, where))
	}
	return err
}

func (l *Lab) linkDeleted(ns *kernel.NS, name, where string) error {
	key := l.Key(ns)
	if where != "" {
		l.deletedLinks[key+"/"+name] = where
	}
	if o := l.find("link", key, name); o != nil {
		return l.gone(o)
	}
	return nil
}

// NetnsDeleted records that a namespace was deleted (and its handle
// closed) at where, which later uses of the handle name (see NSErr).
func (l *Lab) NetnsDeleted(ns *kernel.NS, where string) error {
	l.deletedNS[ns] = where
	l.dad = slices.DeleteFunc(l.dad, func(a dadAddr) bool { return a.ns == ns })
	for key, open := range l.spaces {
		if open == ns {
			delete(l.spaces, key)
		}
	}
	if o := l.find("netns", "", ns.Name); o != nil {
		return l.gone(o)
	}
	return nil
}

// Spawned journals a process the lab started, so that teardown stops it,
// also after nsplay was killed. command names it in reports.
func (l *Lab) Spawned(p *kernel.Proc, command string) error {
	start, err := kernel.StartTime(p.PID())
	if err != nil {
		return nil // it has ended already
	}
	l.procs[p.PID()] = p
	return l.add(&Object{Kind: "proc", Name: command, PID: p.PID(), Start: start})
}

// AddRoute adds a route. Outside the lab's namespaces it is journalled so
// teardown removes it. An identical route the lab owns is adopted.
func (l *Lab) AddRoute(ns *kernel.NS, spec kernel.RouteSpec) (adopted bool, err error) {
	if l.OwnsNS(ns) {
		err := ns.AddRoute(spec)
		if errors.Is(err, kernel.ErrExists) {
			return true, nil
		}
		return false, err
	}
	key := l.Key(ns)
	for _, o := range l.objs {
		if o.Kind == "route" && o.NS == key && *o.Route == spec {
			return true, nil
		}
	}
	err = l.create(&Object{Kind: "route", NS: key, Route: &spec}, func() error { return ns.AddRoute(spec) })
	if errors.Is(err, kernel.ErrExists) {
		return false, l.clash(Object{Kind: "route", NS: key, Route: &spec, NSIno: ns.Inode()}, "route "+spec.Dst, ns.String(), "", "choose another destination or metric")
	}
	return false, err
}

// AddAddr adds an address to a link the lab may change. On a link the lab
// does not own (--allow-host), the address is journalled so teardown
// removes it; on its own links, an address that is already there is
// adopted. An IPv6 address is usable when it returns, or, on a link without
// carrier, once AwaitDAD has returned after the link got carrier.
func (l *Lab) AddAddr(ns *kernel.NS, link string, cidr string) (adopted bool, err error) {
	return l.addAddr(ns, link, cidr, false)
}

// AddAddrNoDAD adds an address like AddAddr, without IPv6 duplicate
// address detection (`ip addr add ... nodad`).
func (l *Lab) AddAddrNoDAD(ns *kernel.NS, link string, cidr string) (adopted bool, err error) {
	return l.addAddr(ns, link, cidr, true)
}

func (l *Lab) addAddr(ns *kernel.NS, link string, cidr string, nodad bool) (adopted bool, err error) {
	if err := l.MayChange(ns, link); err != nil {
		return false, err
	}
	ipnet, err := kernel.ParseCIDR(cidr)
	if err != nil {
		return false, err
	}
	key := l.Key(ns)
	for _, o := range l.objs {
		if o.Kind == "addr" && o.NS == key && o.Link == link && o.CIDR == ipnet.String() {
			return true, nil
		}
	}
	add := ns.AddAddr
	if nodad {
		add = ns.AddAddrNoDAD
	}
	if l.OwnsLink(ns, link) {
		err = add(link, ipnet)
		if errors.Is(err, kernel.ErrExists) {
			return true, nil
		}
	} else {
		o := Object{Kind: "addr", NS: key, Link: link, CIDR: ipnet.String()}
		err = l.create(&o, func() error { return add(link, ipnet) })
		if errors.Is(err, kernel.ErrExists) {
			return false, l.clash(o, "address "+cidr+" on "+link, ns.String(), "", "choose another address")
		}
	}
	if err == nil && !nodad && ipnet.IP.To4() == nil {
		l.dad = append(l.dad, dadAddr{ns, link, ipnet.IP})
	}
	return false, err
}

// dadAddr is an IPv6 address the lab added with duplicate address detection.
type dadAddr struct {
	ns   *kernel.NS
	link string
	ip   net.IP
}

// AwaitDAD waits for the duplicate address detection of the IPv6 addresses
// the lab added to links without carrier, which the kernel begins only once
// the link has carrier: the caller calls it after each step that may give a
// link carrier (set_up of the link or of its veth peer, a port joining its
// bridge), so that the addresses are usable when the step returns.
func (l *Lab) AwaitDAD() error {
	waiting := l.dad[:0]
	for i, a := range l.dad {
		pending, err := a.ns.AwaitDAD(a.link, a.ip)
		switch {
		case errors.Is(err, kernel.ErrNotFound): // the link is gone, and the address with it
		case err != nil:
			l.dad = append(waiting, l.dad[i+1:]...)
			return err
		case pending:
			waiting = append(waiting, a)
		}
	}
	l.dad = waiting
	return nil
}

// AddrDeleted records that an address the lab journalled was deleted.
func (l *Lab) AddrDeleted(ns *kernel.NS, link, cidr string) error {
	key := l.Key(ns)
	for _, o := range l.objs {
		if o.Kind == "addr" && o.NS == key && o.Link == link && o.CIDR == cidr {
			return l.gone(o)
		}
	}
	return nil
}

// WriteFile writes a file the lab owns, creating and journalling the
// folders that are missing. A file the lab did not create is not replaced.
func (l *Lab) WriteFile(path string, data []byte) error {
	if l.find("file", "", path) == nil {
		if _, err := os.Lstat(path); err == nil {
			return l.clash(Object{Kind: "file", Name: path}, "file "+path, "the file system", "remove it", "write elsewhere")
		}
		if err := l.makeDirs(filepath.Dir(path)); err != nil {
			return err
		}
		if err := l.add(&Object{Kind: "file", Name: path}); err != nil {
			return err
		}
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func (l *Lab) makeDirs(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := l.makeDirs(filepath.Dir(dir)); err != nil {
		return err
	}
	return l.create(&Object{Kind: "dir", Name: dir}, func() error {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		return nil
	})
}

// DeleteRoute deletes a route the lab added, or any route of a namespace
// the lab owns; other routes only with --allow-host.
func (l *Lab) DeleteRoute(ns *kernel.NS, spec kernel.RouteSpec) error {
	key := l.Key(ns)
	var mine *Object
	for _, o := range l.objs {
		if o.Kind == "route" && o.NS == key && *o.Route == spec {
			mine = o
		}
	}
	if mine == nil && !l.OwnsNS(ns) && !l.AllowHost {
		return notOwned("route "+spec.Dst, ns.String(), l.Name)
	}
	if err := ns.DelRoute(spec); err != nil {
		return err
	}
	if mine != nil {
		return l.gone(mine)
	}
	return nil
}
