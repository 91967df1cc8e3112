package lab

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nsplay/nsplay/internal/model"
)

// setSysctl sets a sysctl. In a namespace the lab created the change goes
// with the namespace. Elsewhere (host, an attached namespace) it would
// outlive the lab, so it needs --allow-host, and each key is journalled
// with the value before the lab's first change, which teardown writes back
// (also `nsplay down` after a crash) unless another program has changed
// the key since. Either way the key is journalled, so
// that state() and `nsplay show` list what the lab set.
func (l *Lab) setSysctl(o model.SysctlSet) error {
	if _, err := model.SysctlPath(o.Key); err != nil {
		return err
	}
	if !l.AllowHost && !l.OwnsNS(o.NS) {
		return ownershipError(fmt.Sprintf("%s in %s: the namespace was not created by lab %s, and the change would outlive the lab; --allow-host lets nsplay make it and write the old value back at teardown", o.Key, o.NS, l.Name))
	}
	if prev := l.findIn(o.NS, sysctlOf(o.NS, o.Key)); prev != nil {
		if l.OwnsNS(o.NS) {
			return l.B.Apply(o) // listed already; it goes with the namespace
		}
		// The entry is replaced by one with the value the lab sets now
		// and the value before the lab's first change: teardown writes
		// that back only over the lab's own (sysctlChangedSince).
		o.Old = prev.Do.(model.SysctlSet).Old
		if _, err := l.create(o, o.NS); err != nil {
			return err
		}
		return l.gone(prev)
	}
	old, err := l.B.Sysctl(o.NS, o.Key)
	if err != nil && !errors.Is(err, model.ErrUnknown) { // unknown: a plan's, never restored on the machine
		return err
	}
	o.Old = old
	_, err = l.create(o, o.NS)
	return err
}

// sysctlChangedSince tells whether teardown is to skip writing back the
// value before e's change: when the sysctl has it already (nsplay was
// killed before it made the change), or the value of the entry e replaces
// (killed before it made the change that replaces it, which that entry
// then writes back), with nothing to say; or when another program has
// changed it since, with what to say, since the old value would undo that
// change.
func (l *Lab) sysctlChangedSince(e *entry) (say string, skip bool) {
	set := e.Do.(model.SysctlSet)
	now, err := l.B.Sysctl(set.NS, set.Key)
	if err != nil {
		return "", false // the write back says what is wrong
	}
	switch {
	case sameSysctl(now, set.Value):
		return "", false
	case sameSysctl(now, set.Old):
		return "", true
	case l.findIn(set.NS, func(x *entry) bool {
		return x.ID < e.ID && sysctlOf(set.NS, set.Key)(x) && sameSysctl(now, x.Do.(model.SysctlSet).Value)
	}) != nil:
		return "", true
	}
	return fmt.Sprintf("leave sysctl %s in %s alone: it is %q now, not the %q the lab set, so another program changed it since", set.Key, set.NS, now, set.Value), true
}

// sameSysctl tells whether a sysctl's value as read is one as written: the
// same fields, numbers compared as the kernel reads them ("01" is 1, and
// "010" is 8).
func sameSysctl(read, written string) bool {
	a, b := strings.Fields(read), strings.Fields(written)
	return slices.EqualFunc(a, b, func(x, y string) bool {
		i, xerr := strconv.ParseInt(x, 0, 64)
		j, yerr := strconv.ParseInt(y, 0, 64)
		if xerr == nil && yerr == nil {
			return i == j
		}
		return x == y
	})
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
