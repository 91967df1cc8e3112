package lab

import (
	"errors"
	"fmt"

	"github.com/nsplay/nsplay/internal/model"
)

// The scale settings (model/scale.go) change only what goes with the lab:
// a namespace it created, a link it owns. So they are never undone one by
// one, and none outlives the lab; the IPv6 settings are journalled all
// the same, so that state() and `nsplay show` list them with the sysctls.
// The exception is the table that quiets MLD on the lab's bridge ports:
// in a namespace the lab did not create (the host), teardown deletes it.

func (l *Lab) quietIPv6(o model.IPv6Quiet) error {
	if !l.OwnsNS(o.NS) {
		return ownershipError(fmt.Sprintf("%s: nsplay quiets IPv6 only in the namespaces a lab created, and lab %s did not create it", o.NS, l.Name))
	}
	_, err := l.create(o, o.NS)
	return err
}

// quietMLD makes the lab's table of family bridge in a namespace, or
// adopts the one the journal has there (a re-run of a kept lab). It acts
// only on the ports the lab adds to it, so it needs no --allow-host;
// another table of its name is a clash.
func (l *Lab) quietMLD(o model.MLDQuiet) (Result, error) {
	mine := mldTableIn(o.NS)
	clash := func() error {
		return l.clash("table bridge "+o.Table, o.NS.String(), "delete it (nft delete table bridge "+o.Table+")", "give the lab another name", mine, 0)
	}
	_, err := l.B.QuietMLDPorts(o.NS, o.Table)
	switch {
	case err == nil && l.findIn(o.NS, mine) != nil:
		return Result{Adopted: true}, nil
	case err == nil:
		return Result{}, clash()
	case !errors.Is(err, model.ErrNotFound):
		return Result{}, err
	}
	_, err = l.create(o, o.NS)
	if errors.Is(err, model.ErrExists) {
		return Result{}, clash() // a table of that name without the lab's set
	}
	return Result{}, err
}

// quietMLDPorts reads the ports of the lab's table of family bridge in
// ns, if the lab made one there.
func (l *Lab) quietMLDPorts(ns model.NSRef) ([]string, error) {
	return l.readTable(ns, mldTableIn(ns), l.B.QuietMLDPorts)
}

// mldTableIn matches the entry of the lab's table of family bridge in ns.
func mldTableIn(ns model.NSRef) func(*entry) bool {
	return func(e *entry) bool { q, ok := e.Do.(model.MLDQuiet); return ok && q.NS == ns }
}

// changeOwnLink changes a link the lab owns, with or without --allow-host:
// on another link the change would outlive the lab.
func (l *Lab) changeOwnLink(link model.LinkRef, op model.Op) error {
	if !l.OwnsLink(link) {
		return ownershipError(fmt.Sprintf("%s: nsplay makes static neighbour entries and sets MACs only on links its lab owns, and lab %s does not own it", link, l.Name))
	}
	return l.changeLink(link, op)
}

// MadeAnything tells whether this run has made anything yet: the scale
// settings are the lab's from its start.
func (l *Lab) MadeAnything() bool { return l.nextID > l.firstID }

// MadeBridge tells whether the lab made the link that is at link now as a
// bridge: the scale settings look at the ports of those alone, without
// reading every link an address is added to.
func (l *Lab) MadeBridge(link model.LinkRef) bool {
	e := l.linkEntry(link)
	if e == nil {
		return false
	}
	add, _ := e.Do.(model.LinkAdd)
	_, bridge := add.Spec.(model.Bridge)
	return bridge
}
