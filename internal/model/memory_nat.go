package model

import (
	"fmt"
	"net"
	"slices"
)

// NAT in the model: the rules of the labs' tables, kept per namespace as
// the kernel keeps them (a rule added twice is there twice, an output link
// is matched by name, whether it exists or not). Reachability follows
// Masquerade (memory_reach.go): a packet that leaves a namespace through a
// masqueraded link takes the address that namespace sends from there, and
// the reply to it comes back to that namespace, which passes it on to the
// sender. A PortForward is recorded and listed, not followed: whether a
// connection opens is for the kernel to tell (expect.connects is undecided
// in a plan).

func (m *Memory) addNATRule(r NATRule) error {
	if err := r.Check(); err != nil {
		return err
	}
	ns, err := m.space(r.Namespace())
	if err != nil {
		return err
	}
	if ns.natTables == nil {
		ns.natTables = map[string][]NATRule{}
	}
	ns.natTables[r.TableName()] = append(ns.natTables[r.TableName()], r)
	return nil
}

func (m *Memory) delNATTable(o NATTableDel) error {
	ns, err := m.space(o.NS)
	if err != nil {
		return err
	}
	if _, ok := ns.natTables[o.Table]; !ok {
		return fmt.Errorf("table inet %s in %s: %w", o.Table, ns, ErrNotFound)
	}
	delete(ns.natTables, o.Table)
	return nil
}

// NATRules lists a table's rules as the kernel backend does: the chain
// prerouting first, then postrouting, each in the order rules were added.
func (m *Memory) NATRules(ref NSRef, table string) ([]string, error) {
	ns, err := m.space(ref)
	if err != nil {
		return nil, err
	}
	rules, ok := ns.natTables[table]
	if !ok {
		return nil, fmt.Errorf("table inet %s in %s: %w", table, ns, ErrNotFound)
	}
	var out []string
	for _, pre := range []bool{true, false} {
		for _, r := range rules {
			if _, dnat := r.(PortForward); dnat == pre {
				out = append(out, r.Rule())
			}
		}
	}
	return out, nil
}

// masquerades tells whether ns rewrites the source src of what leaves
// through out.
func (ns *memNS) masquerades(out *memLink, src net.IP) bool {
	for _, rules := range ns.natTables {
		if slices.ContainsFunc(rules, func(r NATRule) bool {
			mq, ok := r.(Masquerade)
			if !ok || mq.Out != out.name {
				return false
			}
			if mq.Src == "" {
				return true
			}
			_, prefix, err := net.ParseCIDR(mq.Src)
			return err == nil && prefix.Contains(src)
		}) {
			return true
		}
	}
	return false
}
