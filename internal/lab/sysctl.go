package lab

import (
	"errors"
	"fmt"

	"github.com/nsplay/nsplay/internal/model"
)

// setSysctl sets a sysctl. In a namespace the lab created the change goes
// with the namespace. Elsewhere (host, an attached namespace) it would
// outlive the lab, so it needs --allow-host, and the first change of each
// key is journalled with the value before, which teardown writes back
// (also `nsplay down` after a crash). Either way the key is journalled, so
// that state() and `nsplay show` list what the lab set.
func (l *Lab) setSysctl(o model.SysctlSet) error {
	if _, err := model.SysctlPath(o.Key); err != nil {
		return err
	}
	if !l.AllowHost && !l.OwnsNS(o.NS) {
		return ownershipError(fmt.Sprintf("%s in %s: the namespace was not created by lab %s, and the change would outlive the lab; --allow-host lets nsplay make it and write the old value back at teardown", o.Key, o.NS, l.Name))
	}
	if l.findIn(o.NS, sysctlOf(o.NS, o.Key)) != nil {
		return l.B.Apply(o) // the old value is journalled already
	}
	old, err := l.B.Sysctl(o.NS, o.Key)
	if err != nil && !errors.Is(err, model.ErrUnknown) { // unknown: a plan's, never restored on the machine
		return err
	}
	o.Old = old
	_, err = l.create(o, o.NS)
	return err
}

// sysctlOf matches the entry of a sysctl the lab set.
func sysctlOf(ns model.NSRef, key string) func(*entry) bool {
	return func(e *entry) bool { s, ok := e.Do.(model.SysctlSet); return ok && s.NS == ns && s.Key == key }
}

// sysctls reads the sysctls the lab set in ns now, by key; nil for none.
func (l *Lab) sysctls(ns model.NSRef) (map[string]string, error) {
	var set map[string]string
	read := func(key string) error {
		v, err := l.B.Sysctl(ns, key)
		if err != nil {
			return err
		}
		if set == nil {
			set = map[string]string{}
		}
		set[key] = v
		return nil
	}
	for _, e := range l.ix.byNS[ns] {
		switch o := e.Do.(type) {
		case model.SysctlSet:
			if err := read(o.Key); err != nil {
				return nil, err
			}
		case model.IPv6Quiet:
			for _, s := range model.QuietIPv6Settings {
				if err := read(s.Key); err != nil {
					return nil, err
				}
			}
		}
	}
	return set, nil
}
