package lab

import (
	"fmt"

	"github.com/nsplay/nsplay/internal/model"
)

// The scale settings (model/scale.go) change only what goes with the lab:
// a namespace it created, a link it owns. So they are never undone one by
// one, and none outlives the lab; the IPv6 settings are journalled all
// the same, so that state() and `nsplay show` list them with the sysctls.

func (l *Lab) quietIPv6(o model.IPv6Quiet) error {
	if !l.OwnsNS(o.NS) {
		return ownershipError(fmt.Sprintf("%s: nsplay quiets IPv6 only in the namespaces a lab created, and lab %s did not create it", o.NS, l.Name))
	}
	_, err := l.create(o, o.NS)
	return err
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
