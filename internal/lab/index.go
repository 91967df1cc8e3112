package lab

import (
	"reflect"
	"slices"

	"github.com/nsplay/nsplay/internal/model"
)

// index finds the lab's live entries without a scan of all of them: a
// star of a thousand hosts has thousands, and every step looks some up
// (is the namespace the lab's, the link, the address already there?), so a
// scan per look would make a build cost the square of its size. Each list
// holds its entries in creation order, the newest last.
type index struct {
	byOp   map[model.Op][]*entry      // by the op they record, for ops that can be compared
	byNS   map[model.NSRef][]*entry   // by the namespace they are in (a netns: itself)
	byAt   map[model.LinkRef][]*entry // links, by where they are now
	byBorn map[model.LinkRef][]*entry // links, by where they were made
}

func newIndex(entries []*entry) index {
	ix := index{byOp: map[model.Op][]*entry{}, byNS: map[model.NSRef][]*entry{},
		byAt: map[model.LinkRef][]*entry{}, byBorn: map[model.LinkRef][]*entry{}}
	for _, e := range entries {
		ix.add(e)
	}
	return ix
}

func (ix *index) add(e *entry) {
	if hashable(e.Do) {
		ix.byOp[e.Do] = append(ix.byOp[e.Do], e)
	}
	ix.byNS[e.ns()] = append(ix.byNS[e.ns()], e)
	if _, ok := e.Do.(model.LinkAdd); ok {
		ix.byAt[e.At] = append(ix.byAt[e.At], e)
		ix.byBorn[e.Born] = append(ix.byBorn[e.Born], e)
	}
}

func (ix *index) remove(e *entry) {
	if hashable(e.Do) {
		drop(ix.byOp, e.Do, e)
	}
	drop(ix.byNS, e.ns(), e)
	if _, ok := e.Do.(model.LinkAdd); ok {
		drop(ix.byAt, e.At, e)
		drop(ix.byBorn, e.Born, e)
	}
}

// move files a link entry under where it is now: call it with the entry
// still at from.
func (ix *index) move(e *entry, to model.LinkRef) {
	ix.remove(e)
	e.At = to
	ix.add(e)
}

// newestOp is the newest live entry that records op, or nil.
func (ix *index) newestOp(op model.Op) *entry {
	if !hashable(op) {
		return nil
	}
	return newest(ix.byOp[op])
}

// newestLink is the newest live entry of a link that is at link now.
func (ix *index) newestLink(link model.LinkRef) *entry { return newest(ix.byAt[link]) }

// newestBorn is the newest live entry of a link that was made at link.
func (ix *index) newestBorn(link model.LinkRef) *entry { return newest(ix.byBorn[link]) }

func newest(es []*entry) *entry {
	if len(es) == 0 {
		return nil
	}
	return es[len(es)-1]
}

// drop removes e from the list under key.
func drop[K comparable](m map[K][]*entry, key K, e *entry) {
	es := slices.DeleteFunc(m[key], func(x *entry) bool { return x == e })
	if len(es) == 0 {
		delete(m, key)
		return
	}
	m[key] = es
}

// hashable tells whether op can be a map key: ops are structs of plain
// values, but a link spec could hold one that is not.
func hashable(op model.Op) bool { return op != nil && reflect.ValueOf(op).Comparable() }
