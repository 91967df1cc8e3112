package kernel

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/nsplay/nsplay/internal/model"
)

// maxHops bounds how many gateways pathCause follows.
const maxHops = 8

// pathCause follows an echo to dst past the gateways that are in
// namespaces nsplay knows, starting where n sends it: out of dev, to the
// gateway via (or nil: to dst on the link), and names what is missing on the way: forwarding in a
// gateway's namespace (for the link the echo comes in on), a gateway's
// route on to dst, or, in dst's namespace, a route back to where the echo
// came from (the sender, or the last gateway that masquerades it). "" when
// nothing is missing, or the way leaves the namespaces nsplay knows.
func (n *NS) pathCause(dst net.IP, dev string, via net.IP, known []*NS) string {
	v6 := dst.To4() == nil
	from, ok := n.sourceTo(dst)
	if !ok {
		return ""
	}
	at, out := n, dev
	for hop := 0; via != nil && hop < maxHops; hop++ {
		g, in := ownerOf(via, known)
		if g == nil || has(g, dst) {
			return ""
		}
		if !g.forwards(v6, in) {
			key := model.ForwardingKey(v6)
			return fmt.Sprintf("%s in %s reaches the gateway %s in %s, which does not have %s and does not forward (forwarding is off): %s turns it on",
				out, at, via, g, dst, model.SysctlCall(g.ref(), key, "1"))
		}
		next, nextVia, err := g.RouteTo(dst)
		if err != nil {
			return fmt.Sprintf("the gateway %s in %s forwards, but has no route to %s", via, g, dst)
		}
		if g.masquerades(next) {
			if from, ok = g.sourceTo(dst); !ok {
				return ""
			}
		}
		at, out, via = g, next, nextVia
	}
	d, _ := ownerOf(dst, known)
	if d == nil {
		return ""
	}
	if _, _, err := d.RouteTo(from); err != nil {
		return fmt.Sprintf("%s in %s has no route back to %s, where the echo comes from: give %s a route to it, or have the gateway masquerade what it forwards (nat)", dst, d, from, d)
	}
	return ""
}

// ref is the namespace as a playbook names it.
func (n *NS) ref() model.NSRef {
	switch {
	case n.Name != "":
		return model.Named(n.Name)
	case n.Label == "host":
		return model.Host
	}
	return model.AtPath(n.Path)
}

// sourceTo is the address n sends from to dst.
func (n *NS) sourceTo(dst net.IP) (net.IP, bool) {
	if n.Err() != nil {
		return nil, false
	}
	rs, err := n.nl.RouteGet(dst)
	if err != nil || len(rs) == 0 || rs[0].Src == nil {
		return nil, false
	}
	return rs[0].Src, true
}

// ownerOf finds the namespace of known that has address ip, and the link
// that has it.
func ownerOf(ip net.IP, known []*NS) (*NS, string) {
	for _, k := range known {
		links, err := k.Links()
		if err != nil {
			continue
		}
		for _, l := range links {
			addrs, err := k.Addrs(l.Name, false)
			if err != nil {
				continue
			}
			if slices.ContainsFunc(addrs, func(a AddrInfo) bool { addr, _, err := net.ParseCIDR(a.CIDR); return err == nil && addr.Equal(ip) }) {
				return k, l.Name
			}
		}
	}
	return nil, ""
}

func has(n *NS, ip net.IP) bool {
	owner, _ := ownerOf(ip, []*NS{n})
	return owner != nil
}

// forwards tells whether n forwards packets of the IP version that come
// in on link in: IPv4 by the link's own forwarding (which
// net.ipv4.ip_forward sets on all links), IPv6 by
// net.ipv6.conf.all.forwarding.
func (n *NS) forwards(v6 bool, in string) bool {
	key := "net.ipv4.conf." + strings.ReplaceAll(in, ".", "/") + ".forwarding"
	if v6 {
		key = model.ForwardingKey(true)
	}
	v, err := n.Sysctl(key)
	return err != nil || v != "0" // unreadable: not what is missing
}

// masquerades tells whether a rule of a NAT chain at postrouting in any
// table of n masquerades what leaves link out (or whatever leaves). A
// ruleset it cannot read counts as none: this only shapes a diagnosis,
// which then looks for a route back to the sender.
func (n *NS) masquerades(out string) bool {
	found := false
	_ = n.nft(func(c *nftables.Conn) error {
		chains, err := c.ListChains()
		if err != nil {
			return err
		}
		for _, ch := range chains {
			if ch.Type != nftables.ChainTypeNAT || ch.Hooknum == nil || *ch.Hooknum != *nftables.ChainHookPostrouting {
				continue
			}
			rules, _ := c.GetRules(ch.Table, ch)
			found = found || slices.ContainsFunc(rules, func(r *nftables.Rule) bool { return masqueradesOut(r, out) })
		}
		return nil
	})
	return found
}

// masqueradesOut tells whether rule r masquerades and, if it matches an
// output link by name, whether that is out.
func masqueradesOut(r *nftables.Rule, out string) bool {
	masq, matches := false, true
	for i, e := range r.Exprs {
		switch e := e.(type) {
		case *expr.Masq:
			masq = true
		case *expr.Meta:
			if e.Key == expr.MetaKeyOIFNAME && i+1 < len(r.Exprs) {
				if cmp, ok := r.Exprs[i+1].(*expr.Cmp); ok {
					matches = string(bytes.TrimRight(cmp.Data, "\x00")) == out
				}
			}
		}
	}
	return masq && matches
}
