package model

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
)

// Reachability in the model: an echo request is answered when the kernel
// would carry it there and its reply back. A namespace takes a packet for
// one of its own addresses (through its lo, when it is its own); otherwise
// it looks up a route (the main table, then default; the longest prefix,
// then the lowest metric) whose link must be up with carrier; the next hop
// (the gateway, or the destination on a subnet) must answer ARP or
// neighbour discovery on that link's layer 2: veth pairs, and bridges that
// are up, through their forwarding ports. The namespace that answers takes
// the packet if the destination is any of its addresses (Linux is a weak
// host), or forwards it if forwarding is on there, and so on. The reply
// goes back the same way, to the source address the sender picked.

// Ping decides in the model: Received is count when the model carries the
// echo there and back, else 0; round trips only the kernel knows.
func (m *Memory) Ping(_ context.Context, ref NSRef, dst net.IP, count int, _ time.Duration) (PingResult, error) {
	ns, err := m.space(ref)
	if err != nil {
		return PingResult{}, err
	}
	if err := linkLocalEcho(dst); err != nil {
		return PingResult{}, err
	}
	res := PingResult{Sent: count}
	if m.trace(ns, norm(dst)) == "" {
		res.Received = count
	}
	return res, nil
}

// WhyUnreachable says, in the words the kernel backend uses, where the
// model loses an echo to dst from ns; "" when it answers.
func (m *Memory) WhyUnreachable(ref NSRef, dst net.IP) string {
	ns, err := m.space(ref)
	if err != nil {
		return err.Error()
	}
	return m.trace(ns, norm(dst))
}

// linkLocalEcho is ErrUnknown for an echo to an IPv6 link-local address:
// the kernel gives each link one, the model none.
func linkLocalEcho(dst net.IP) error {
	if dst.To4() == nil && dst.IsLinkLocalUnicast() {
		return fmt.Errorf("whether the link-local %s answers: the model has no IPv6 link-local addresses, %w", dst, ErrUnknown)
	}
	return nil
}

func norm(ip net.IP) net.IP {
	if ip4 := ip.To4(); ip4 != nil {
		return ip4
	}
	return ip
}

// trace follows an echo request from s to dst and its reply back, and
// says where one is lost, or "". The reply goes to the source dst saw: a
// namespace that masqueraded the request takes it and passes it on to the
// source it replaced, the last of them first.
func (m *Memory) trace(s *memNS, dst net.IP) string {
	to, src, nats, why := m.send(s, packet{dst: dst}, nil)
	if why != "" {
		return why
	}
	from, target := to, src
	for i := len(nats); i >= 0; i-- {
		want := s
		if i > 0 {
			want = nats[i-1].gw
		}
		back, _, _, why := m.send(from, packet{dst: target, src: dst, reply: true}, nil)
		switch {
		case why != "":
			return fmt.Sprintf("%s answers in %s, but its reply to %s is lost: %s", dst, to, target, why)
		case back != want:
			return fmt.Sprintf("%s answers in %s, but its reply to %s goes to %s, which has that address too", dst, to, target, back)
		}
		if i > 0 {
			from, target = nats[i-1].gw, nats[i-1].orig
		}
	}
	return ""
}

// packet is what send follows: to dst, from src (nil: the namespace it
// starts in sends it, from the address it picks). A reply is not
// masqueraded again: the kernel translates only a connection's first
// packet, and the replies by its record.
type packet struct {
	dst, src net.IP
	reply    bool
}

// natHop is a namespace that masqueraded a packet: the source it replaced.
type natHop struct {
	gw   *memNS
	orig net.IP
}

// send follows a packet from ns to its destination: it returns the
// namespace that takes it, the source address it arrives with, and the
// namespaces that masqueraded it on the way, in order; or why it is lost.
// path holds the namespaces that forwarded it so far, against loops.
func (m *Memory) send(ns *memNS, p packet, path []*memNS) (*memNS, net.IP, []natHop, string) {
	dst := p.dst
	if slices.Contains(path, ns) {
		return nil, nil, nil, fmt.Sprintf("packets to %s go round in a loop through %s", dst, names(append(path, ns)))
	}
	if ns.owner(dst) != nil || ns.onLoopback(dst) {
		if lo := ns.loopback(); !lo.up {
			return nil, nil, nil, fmt.Sprintf("%s is down", lo)
		}
		return ns, dst, nil, ""
	}
	r := ns.lookup(dst)
	if r == nil {
		if down := ns.downLinkFor(dst); down != nil {
			return nil, nil, nil, fmt.Sprintf("%s is down", down)
		}
		return nil, nil, nil, fmt.Sprintf("%s has no route to %s", ns, dst)
	}
	out, hop, nh := r.dev, dst.String(), dst
	if r.via != nil {
		hop, nh = "the gateway "+r.via.String(), r.via
	}
	if !out.hasCarrier() {
		return nil, nil, nil, fmt.Sprintf("%s has no carrier%s", out, out.peerCause())
	}
	if cause := out.peerCause(); cause != "" {
		return nil, nil, nil, fmt.Sprintf("%s is up with carrier%s", out, cause)
	}
	if out.master != nil {
		return nil, nil, nil, fmt.Sprintf("%s is a port of %s: what comes back to it goes to the bridge, so the addresses and routes belong on %s", out, out.master.name, out.master.name)
	}
	src := p.src
	if src == nil {
		if src = ns.source(out, nh); src == nil {
			return nil, nil, nil, fmt.Sprintf("%s has no address", out)
		}
	}
	var nats []natHop
	if !p.reply && ns.masquerades(out, src) {
		as := ns.source(out, nh)
		if as == nil {
			return nil, nil, nil, fmt.Sprintf("%s masquerades what leaves %s, but %s has no address to give it", ns, out.name, out.name)
		}
		nats, src = []natHop{{gw: ns, orig: src}}, as
	}
	at := m.neighbour(out, nh)
	if at == nil {
		return nil, nil, nil, fmt.Sprintf("%s is up with carrier, but nothing reached through it has %s", out, hop)
	}
	to := at.ns
	if to.owner(dst) != nil {
		return to, src, nats, ""
	}
	if v6 := dst.To4() == nil; !to.forwards(v6) {
		return nil, nil, nil, fmt.Sprintf("%s reaches %s in %s, which does not have %s and does not forward (forwarding is off): %s turns it on",
			out, hop, to, dst, SysctlCall(to.ref, ForwardingKey(v6), "1"))
	}
	next, seen, more, why := m.send(to, packet{dst: dst, src: src, reply: p.reply}, append(path, ns))
	return next, seen, append(nats, more...), why
}

func names(path []*memNS) string {
	s := make([]string, len(path))
	for i, ns := range path {
		s[i] = ns.String()
	}
	return strings.Join(s, ", ")
}

// owner is the link in ns that has address ip; an IPv6 one must have
// passed duplicate address detection. The link may be down: the kernel
// keeps an address's local route then (measured: an address of a link that
// is down answers, also one of a link never up).
func (ns *memNS) owner(ip net.IP) *memLink {
	for _, l := range ns.addressed {
		if l.has(ip) {
			return l
		}
	}
	return nil
}

func (l *memLink) has(ip net.IP) bool {
	match := func(a *memAddr) bool { return a.net.IP.Equal(ip) && !l.tentative(a) }
	return slices.ContainsFunc(l.v4, match) || slices.ContainsFunc(l.v6, match)
}

// onLoopback tells whether ip is in an IPv4 subnet of the loopback, which
// the kernel makes local as a whole (local 127.0.0.0/8 dev lo). The kernel
// looks up its local and main tables as one, so a longer prefix in main
// wins (measured: with 10.0.0.1/16 on lo and 10.0.0.2/24 on eth0,
// 10.0.0.3 goes out of eth0 and 10.0.5.3 is local).
func (ns *memNS) onLoopback(ip net.IP) bool {
	lo, main := ns.loopback(), ns.best(ip, tableIDs["main"])
	return lo.up && slices.ContainsFunc(lo.v4, func(a *memAddr) bool {
		ones, _ := a.net.Mask.Size()
		return a.net.Contains(ip) && (main == nil || ones >= main.prefixLen())
	})
}

// loopback is the namespace's lo, whatever it is called now.
func (ns *memNS) loopback() *memLink {
	return ns.links[slices.IndexFunc(ns.links, (*memLink).isLoopback)]
}

// lookup finds the route the kernel takes to dst: in the main table, then
// in default (the local table holds the addresses, seen before). A route
// through a link without carrier is taken all the same
// (ignore_routes_with_linkdown is off).
func (ns *memNS) lookup(dst net.IP) *memRoute {
	if r := ns.best(dst, tableIDs["main"]); r != nil {
		return r
	}
	return ns.best(dst, tableIDs["default"])
}

// best is a table's route to dst: the longest prefix, then the lowest
// metric.
func (ns *memNS) best(dst net.IP, table int) *memRoute {
	var best *memRoute
	for _, r := range ns.routes {
		if r.table != table || !r.contains(dst) {
			continue
		}
		if best == nil || r.prefixLen() > best.prefixLen() || r.prefixLen() == best.prefixLen() && r.metric < best.metric {
			best = r
		}
	}
	return best
}

// downLinkFor finds a link that is down with an address whose subnet holds
// dst: the route a user expects went with it.
func (ns *memNS) downLinkFor(dst net.IP) *memLink {
	for _, l := range ns.addressed {
		if !l.up && slices.ContainsFunc(l.addrs(), func(a *memAddr) bool { return a.net.Contains(dst) }) {
			return l
		}
	}
	return nil
}

// source picks the address ns sends from through out to next hop nh: the
// one on out whose subnet holds nh, else out's first global one, else the
// first global one of any link (the kernel's inet_select_addr; for IPv6 a
// simplification of RFC 6724 that agrees for one address a subnet).
func (ns *memNS) source(out *memLink, nh net.IP) net.IP {
	v6 := nh.To4() == nil
	usable := func(l *memLink, a *memAddr) bool {
		return (a.net.IP.To4() == nil) == v6 && a.scope == "global" && !a.secondary && !l.tentative(a)
	}
	for _, a := range out.addrs() {
		if usable(out, a) && a.net.Contains(nh) {
			return a.net.IP
		}
	}
	for _, l := range append([]*memLink{out}, ns.addressed...) {
		for _, a := range l.addrs() {
			if usable(l, a) {
				return a.net.IP
			}
		}
	}
	return nil
}

// neighbour finds the link that answers for nh on out's layer 2. IPv4:
// any link whose namespace has nh on a link that is up (arp_ignore is 0);
// IPv6: a link that has nh itself.
func (m *Memory) neighbour(out *memLink, nh net.IP) *memLink {
	for l := range m.reached(out) {
		if nh.To4() != nil && l.ns.owner(nh) != nil {
			return l
		}
		if nh.To4() == nil && l.has(nh) {
			return l
		}
	}
	return nil
}

// peerCause names what keeps a link from carrying: a veth's peer down, or
// the peer's bridge down or held back by its spanning tree; a bridge's
// ports.
func (l *memLink) peerCause() string {
	if p := l.peer; p != nil {
		switch br := p.master; {
		case !p.up:
			return fmt.Sprintf(": its peer %s is down", p)
		case br != nil && !br.up:
			return fmt.Sprintf(": its peer %s is a port of %s, which is down", p, br.name)
		case br != nil && br.stp:
			return fmt.Sprintf(": its peer %s is a port of %s, whose spanning tree (stp on) lets a port forward only after 30 seconds of listening and learning", p, br.name)
		}
		return ""
	}
	if l.kind == "bridge" && !l.hasCarrier() {
		if l.stp {
			return ": its spanning tree (stp on) lets a port forward only after 30 seconds of listening and learning"
		}
		return ": none of its ports is up with carrier"
	}
	return ""
}
