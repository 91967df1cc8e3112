package lab

import (
	"errors"
	"fmt"
	"slices"

	"github.com/nsplay/nsplay/internal/model"
)

// addNATRule adds a rule to the lab's nftables table in a namespace. In a
// namespace the lab created, the table goes with the namespace; elsewhere
// it changes what happens to the namespace's traffic, so it needs
// --allow-host, and teardown deletes the table. A rule the table has
// already (a re-run of a kept lab) is adopted. Every rule is journalled,
// so that state() and `nsplay show` know where the lab has rules.
func (l *Lab) addNATRule(r model.NATRule) (Result, error) {
	if err := r.Check(); err != nil {
		return Result{}, err
	}
	ns, table := r.Namespace(), r.TableName()
	owned := l.OwnsNS(ns)
	if !l.AllowHost && !owned {
		return Result{}, ownershipError(fmt.Sprintf("NAT in %s: the namespace was not created by lab %s, and its rules would change what happens to the namespace's traffic; --allow-host lets nsplay add them, in table inet %s, which teardown deletes", ns, l.Name, table))
	}
	rules, err := l.B.NATRules(ns, table)
	switch {
	case err == nil && slices.Contains(rules, r.Rule()):
		return Result{Adopted: true}, nil
	case err == nil && !owned && l.findIn(ns, natRuleIn(ns)) == nil:
		return Result{}, l.clash("table inet "+table, ns.String(), "delete it (nft delete table inet "+table+")", "give the lab another name", natRuleIn(ns), 0)
	case err != nil && !errors.Is(err, model.ErrNotFound):
		return Result{}, err
	}
	_, err = l.create(r, ns)
	return Result{}, err
}

// natRuleIn matches the entries of the lab's rules in ns.
func natRuleIn(ns model.NSRef) func(*entry) bool {
	return func(e *entry) bool { r, ok := e.Do.(model.NATRule); return ok && r.Namespace() == ns }
}

// natRules reads the rules of the lab's table in ns, if the lab has rules
// there.
func (l *Lab) natRules(ns model.NSRef) ([]string, error) {
	return l.readTable(ns, natRuleIn(ns), l.B.NATRules)
}

// readTable reads what is in the lab's nftables table in ns with read,
// if the journal has an entry there that made it (match); nothing when
// it was deleted from outside.
func (l *Lab) readTable(ns model.NSRef, match func(*entry) bool, read func(model.NSRef, string) ([]string, error)) ([]string, error) {
	if l.findIn(ns, match) == nil {
		return nil, nil
	}
	got, err := read(ns, model.LabTable(l.Name))
	if errors.Is(err, model.ErrNotFound) {
		return nil, nil
	}
	return got, err
}
