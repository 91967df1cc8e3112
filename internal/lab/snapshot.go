package lab

import (
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/nsplay/nsplay/internal/model"
)

// Snapshot reads the lab's live state; only, when not nil, limits it to
// that namespace.
func (l *Lab) Snapshot(only *model.NSRef) (model.Snapshot, error) {
	spaces := l.spaces()
	if only != nil {
		spaces = []model.NSRef{*only}
	}
	var snap model.Snapshot
	for _, ns := range spaces {
		st, err := l.nsState(ns)
		if err != nil {
			return model.Snapshot{}, err
		}
		snap.Namespaces = append(snap.Namespaces, st)
	}
	return snap, nil
}

// spaces lists the namespaces the lab has things in: host first, then its
// own by name, then attached ones by path. A namespace the lab created
// and that is gone is left out, and so is one that is another now under
// its name or path (the lab's ns1 deleted from outside and another made):
// what is in it is not the lab's.
func (l *Lab) spaces() []model.NSRef {
	refs := []model.NSRef{model.Host}
	for ns := range l.ix.byNS {
		if !ns.IsHost() {
			refs = append(refs, ns)
		}
	}
	refs = slices.DeleteFunc(refs, func(ns model.NSRef) bool {
		ino, err := l.B.Identity(ns)
		switch {
		case err != nil:
			return true
		case ns.IsHost():
			return false
		case l.netnsEntry(ns) != nil:
			return !l.MadeNS(ns, ino)
		}
		return slices.ContainsFunc(l.ix.byNS[ns], func(e *entry) bool { return e.NSIno != 0 && e.NSIno != ino })
	})
	attached := func(ns model.NSRef) int {
		if ns.Name() != "" {
			return 0
		}
		return 1
	}
	slices.SortFunc(refs[1:], func(a, b model.NSRef) int {
		return cmp.Or(cmp.Compare(attached(a), attached(b)), cmp.Compare(a.Key(), b.Key()))
	})
	return refs
}

func (l *Lab) nsState(ns model.NSRef) (model.NSState, error) {
	owned := l.OwnsNS(ns)
	st := model.NSState{Name: ns.String(), Owned: owned, Links: []model.LinkState{}, Routes: []model.RouteInfo{}, Files: []model.FileState{}}
	if err := l.B.Settle(ns, 2*time.Second); err != nil {
		return st, err
	}
	links, err := l.B.Links(ns)
	if err != nil {
		return st, err
	}
	slices.SortFunc(links, func(a, b model.LinkInfo) int { return cmp.Compare(a.Name, b.Name) })
	mine := map[string]bool{}
	for _, li := range links {
		ref := model.Link(ns, li.Name)
		if !owned && !l.OwnsLink(ref) {
			continue
		}
		mine[li.Name] = true
		addrs, err := l.B.Addrs(ref)
		if err != nil {
			return st, err
		}
		st.Links = append(st.Links, model.StateOf(li, addrs))
	}
	if err := l.impairmentsOf(ns, st.Links); err != nil {
		return st, err
	}
	routes, err := l.B.Routes(ns)
	if err != nil {
		return st, err
	}
	for _, r := range routes {
		journalled := l.findIn(ns, func(e *entry) bool {
			add, ok := e.Do.(model.RouteAdd)
			return ok && add.NS == ns && add.Route.Dst == r.Dst && add.Route.Table == r.Table && add.Route.Metric == r.Metric
		}) != nil
		if owned || mine[r.Dev] || journalled {
			st.Routes = append(st.Routes, r)
		}
	}
	slices.SortStableFunc(st.Routes, func(a, b model.RouteInfo) int {
		return cmp.Or(cmp.Compare(a.Table, b.Table), cmp.Compare(a.Dst, b.Dst), cmp.Compare(a.Metric, b.Metric), cmp.Compare(a.Dev, b.Dev))
	})
	if ns.Name() != "" {
		if st.Files, err = l.files(ns.Name(), owned); err != nil {
			return st, err
		}
	}
	if st.Sysctls, err = l.sysctls(ns); err != nil {
		return st, err
	}
	if st.NAT, err = l.natRules(ns); err != nil {
		return st, err
	}
	if st.QuietMLD, err = l.quietMLDPorts(ns); err != nil {
		return st, err
	}
	if st.Neighbours, err = l.neighbours(ns, owned, mine); err != nil {
		return st, err
	}
	return st, nil
}

// files reads /etc/netns/<name>/*: all of it for the lab's own namespaces,
// only what the lab wrote for others.
func (l *Lab) files(name string, owned bool) ([]model.FileState, error) {
	dir := filepath.Join(l.Paths.EtcNetns, name)
	names, err := l.B.ReadDir(dir)
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return nil, err
	}
	slices.Sort(names)
	files := []model.FileState{}
	for _, n := range names {
		path := filepath.Join(dir, n)
		if !owned && l.findIn(model.Host, func(e *entry) bool { w, ok := e.Do.(model.FileWrite); return ok && w.Path == path }) == nil {
			continue
		}
		data, err := l.B.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		files = append(files, model.FileState{Path: path, Content: string(data)})
	}
	return files, nil
}

// neighbours reads the permanent neighbour entries of the namespace's
// links: all of them in the lab's own namespaces, those of the links the
// lab owns (mine) elsewhere.
func (l *Lab) neighbours(ns model.NSRef, owned bool, mine map[string]bool) ([]model.NeighInfo, error) {
	all, err := l.B.Neighbours(ns)
	if err != nil {
		return nil, err
	}
	out := slices.DeleteFunc(all, func(n model.NeighInfo) bool { return !owned && !mine[n.Dev] })
	slices.SortFunc(out, func(a, b model.NeighInfo) int { return cmp.Or(cmp.Compare(a.Dev, b.Dev), cmp.Compare(a.IP, b.IP)) })
	return out, nil
}
