package model

import (
	"iter"
	"net"
)

// Layer 2 in the model: where a frame goes. It leaves a link over its
// kind's wire (send) and arrives at links (arrive); a bridge port hands it
// to its bridge, which floods it out of its other forwarding ports; a link
// that takes a frame in passes it to its macvlans (a broadcast reaches
// them all) and, tagged, to its vlan of the tag. Tags cross veths, bridges
// (without VLAN filtering) and vxlans unchanged.

// l2 follows one frame: it hands each link whose namespace takes it in to
// yield, in the order the frame gets there, until yield asks for no more.
type l2 struct {
	m       *Memory
	yield   func(*memLink) bool
	stopped bool // yield asked for no more
	flooded map[hop]bool
}

type hop struct {
	l   *memLink
	tag int
}

// reached yields the links a frame sent out of out arrives at and whose
// namespaces take it in, in order. It follows the frame only as far as its
// caller looks: the first that answers an ARP request through a bridge of
// a thousand ports is mostly not the last.
func (m *Memory) reached(out *memLink) iter.Seq[*memLink] {
	return func(yield func(*memLink) bool) {
		w := &l2{m: m, yield: yield, flooded: map[hop]bool{}}
		w.send(out, 0)
	}
}

// send sends a frame out of l, tagged when tag is not 0.
func (w *l2) send(l *memLink, tag int) {
	if !w.stopped && l.rules.send != nil {
		l.rules.send(w, l, tag)
	}
}

// arrive takes a frame in at l, from its wire.
func (w *l2) arrive(l *memLink, tag int) {
	switch {
	case w.stopped:
	case !l.hasCarrier():
	case l.master != nil:
		if forwards(l) {
			w.flood(l.master, l, tag)
		}
	default:
		w.deliver(l, tag)
	}
}

// deliver hands a frame to l's namespace, or to l's vlan of its tag; l's
// macvlans see it too.
func (w *l2) deliver(l *memLink, tag int) {
	if tag == 0 && !w.stopped {
		w.stopped = !w.yield(l)
	}
	for _, u := range w.m.uppers(l) {
		switch {
		case u.kind == "macvlan":
			w.arrive(u, tag)
		case u.kind == "vlan" && u.attrs.VLANID == tag:
			w.arrive(u, 0)
		}
	}
}

// flood passes a frame through a bridge, once: to the bridge itself when
// it came in at port in, and out of its other forwarding ports.
func (w *l2) flood(br, in *memLink, tag int) {
	if w.flooded[hop{br, tag}] {
		return
	}
	w.flooded[hop{br, tag}] = true
	if in != nil {
		w.deliver(br, tag)
	}
	for _, p := range br.ports {
		if w.stopped {
			return
		}
		if p != in && forwards(p) {
			w.send(p, tag)
		}
	}
}

// A frame sent out of a veth arrives at its peer.
func vethSend(w *l2, l *memLink, tag int) {
	if l.peer != nil {
		w.arrive(l.peer, tag)
	}
}

// A frame sent out of a bridge goes out of its forwarding ports.
func bridgeSend(w *l2, br *memLink, tag int) { w.flood(br, nil, tag) }

// A frame sent out of a macvlan goes out of its parent; in bridge mode it
// reaches the parent's other bridge-mode macvlans directly. (The parent
// itself never sees it: a namespace does not reach its macvlans through
// their parent.)
func macvlanSend(w *l2, l *memLink, tag int) {
	if l.attrs.Mode == "bridge" {
		for _, s := range w.m.uppers(l.lower) {
			if s != l && s.kind == "macvlan" && s.attrs.Mode == "bridge" {
				w.arrive(s, tag)
			}
		}
	}
	w.send(l.lower, tag)
}

// A frame sent out of a vlan goes out of its parent with the vlan's tag.
func vlanSend(w *l2, l *memLink, _ int) { w.send(l.lower, l.attrs.VLANID) }

// A frame sent out of a vxlan arrives at the vxlans of its VNI and port
// that its underlay reaches: those in the namespace that takes a packet
// for its remote, or those that joined its group on the links its dev
// reaches. (The kernel binds a vxlan's socket to any address, so its
// local does not choose what it takes.)
func vxlanSend(w *l2, l *memLink, tag int) {
	if w.m.tunnels[l] {
		return // its underlay runs through itself
	}
	if w.m.tunnels == nil {
		w.m.tunnels = map[*memLink]bool{}
	}
	w.m.tunnels[l] = true
	defer delete(w.m.tunnels, l)
	takes := func(o *memLink, ns *memNS) bool {
		return o != l && o.kind == "vxlan" && o.underlay == ns && o.hasCarrier() && o.attrs.VNI == l.attrs.VNI &&
			o.attrs.Port == l.attrs.Port
	}
	var far []*memLink
	switch a := l.attrs; {
	case a.Remote != "":
		if to, _, _, why := w.m.send(l.underlay, packet{dst: net.ParseIP(a.Remote)}, nil); why == "" {
			for _, o := range to.links {
				if takes(o, to) {
					far = append(far, o)
				}
			}
		}
	case a.Group != "" && l.lower != nil && l.lower.hasCarrier():
		for e := range w.m.reached(l.lower) {
			for _, o := range e.ns.links {
				if o.lower == e && o.attrs.Group == a.Group && takes(o, e.ns) {
					far = append(far, o)
				}
			}
		}
	}
	for _, o := range far {
		w.arrive(o, tag)
	}
}
