package kernel

// A namespace knows each namespace it has a link into (a veth's peer, a
// macvlan's parent) under a number of its own, the netns id
// (IFLA_LINK_NETNSID, `ip netns list-id`). The kernel answers only the
// other way, the id of a namespace nsplay has open, one request each, so
// finding the namespace behind an id means asking about every open one:
// for the ports of a star's bridge, one request per host on every lookup.
// So a namespace remembers the answers. The kernel keeps an id until one
// of the two namespaces is freed, and an open NS holds its namespace, so
// an id learnt stays true while both are open.

// idMemo is what a namespace learnt of the ids it knows others under.
type idMemo struct {
	byID  map[int]*NS // the namespaces with an id, by id
	asked map[*NS]int // every answer, -1 (no id) included
}

// withID finds the open namespace that n knows under id among the
// likely namespaces and then the candidates: from what n learnt, else by
// asking about those never asked about, and then about those that had no
// id when asked (a link between the two may have been made since). The
// candidates are listed only when the likely ones do not have it.
func (n *NS) withID(id int, likely []*NS, candidates func() []*NS) (*NS, bool) {
	if k, ok := n.ids.byID[id]; ok {
		if k.closed == nil {
			return k, true
		}
		// Closed: the namespace may be freed, and its id another's.
		delete(n.ids.byID, id)
		delete(n.ids.asked, k)
	}
	now := map[*NS]bool{} // asked in this call
	if k, ok := n.ask(id, likely, now, false); ok {
		return k, true
	}
	all := candidates()
	for _, again := range []bool{false, true} {
		if k, ok := n.ask(id, all, now, again); ok {
			return k, true
		}
	}
	return nil, false
}

// ask asks about the namespaces of spaces that were never asked about (or,
// again, that had no id), but not twice in one call (now), and tells which
// n knows under id.
func (n *NS) ask(id int, spaces []*NS, now map[*NS]bool, again bool) (*NS, bool) {
	for _, k := range spaces {
		before, asked := n.ids.asked[k]
		if now[k] || k.closed != nil || asked != again || (asked && before >= 0) {
			continue
		}
		now[k] = true
		got, err := n.NetnsIDOf(k)
		if err != nil {
			continue
		}
		n.remember(k, got)
		if got == id {
			return k, true
		}
	}
	return nil, false
}

// remember notes that n knows k under id (-1: none).
func (n *NS) remember(k *NS, id int) {
	if n.ids.asked == nil {
		n.ids = idMemo{byID: map[int]*NS{}, asked: map[*NS]int{}}
	}
	n.ids.asked[k] = id
	if id >= 0 {
		n.ids.byID[id] = k
	}
}
