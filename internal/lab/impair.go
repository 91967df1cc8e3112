package lab

import (
	"errors"

	"github.com/nsplay/nsplay/internal/model"
)

// impair sets (QdiscSet) or clears (QdiscClear) a link's impairments. On
// a link the lab owns they go with the link. On another (--allow-host)
// the first QdiscSet is journalled, so that teardown clears it, also after
// a crash; clearing it forgets it. Clearing a link that has none is no
// change.
func (l *Lab) impair(link model.LinkRef, op model.Op) error {
	if err := l.mayChange(link); err != nil {
		return err
	}
	if l.OwnsLink(link) {
		return ignoreNotFound(op, l.apply(op))
	}
	mine := func(e *entry) bool { s, ok := e.Do.(model.QdiscSet); return ok && s.Link == link }
	if _, set := op.(model.QdiscSet); set && l.findIn(link.NS, mine) == nil {
		_, err := l.create(op, link.NS)
		return err
	}
	if err := ignoreNotFound(op, l.apply(op)); err != nil {
		return err
	}
	if _, clear := op.(model.QdiscClear); clear {
		return l.forgetEntry(l.findIn(link.NS, mine))
	}
	return nil
}

// ignoreNotFound drops the ErrNotFound of a QdiscClear: the link has no
// impairments, as asked.
func ignoreNotFound(op model.Op, err error) error {
	if _, clear := op.(model.QdiscClear); clear && errors.Is(err, model.ErrNotFound) {
		return nil
	}
	return err
}

// impairmentsOf fills in the impairments of the links of a snapshot of ns.
func (l *Lab) impairmentsOf(ns model.NSRef, links []model.LinkState) error {
	imps, err := l.B.Impairments(ns)
	if err != nil {
		return err
	}
	for i := range links {
		if imp, ok := imps[links[i].Name]; ok {
			links[i].Impairments = &imp
		}
	}
	return nil
}
