package kernel

import (
	"time"

	"github.com/nsplay/nsplay/internal/model"
)

// A bridge forwards through a port only once the kernel's link watch has
// seen the port's carrier come up, which it does in the background: on a
// busy machine (another lab's namespaces being freed hold the lock it
// needs) that can be seconds after the step that gave the port carrier.
// An echo sent meanwhile is dropped, and so are the ARP requests the
// kernel retries once a second, so a check right after the build would
// fail for no fault of the lab. So before the first traffic after a
// change that may give a port carrier, the backend waits until the ports
// of the bridges it has seen have settled: one dump of each namespace that
// holds such a bridge per round, whatever the number of ports.

// portsSettle is how long traffic waits, at most, for bridge ports to
// settle.
const portsSettle = 10 * time.Second

// notePorts remembers, after op, whether a port may be about to get
// carrier, and where bridges with ports are.
func (b *Backend) notePorts(op model.Op) {
	switch o := op.(type) {
	case model.LinkSetMaster:
		if o.Master != "" {
			if ns, err := b.NS(o.Link.NS); err == nil {
				if b.bridgeSpaces == nil {
					b.bridgeSpaces = map[*NS]bool{}
				}
				b.bridgeSpaces[ns] = true
			}
			b.portsMoved = true
		}
	case model.LinkSetUp:
		b.portsMoved = b.portsMoved || o.Up
	}
}

// settlePorts waits, when a port may have got carrier since it last
// looked, until no bridge port in the namespaces of the bridges it has
// seen has carrier without being operationally up.
func (b *Backend) settlePorts() {
	if !b.portsMoved {
		return
	}
	b.portsMoved = false
	deadline := time.Now().Add(portsSettle)
	for ns := range b.bridgeSpaces {
		if ns.Err() != nil {
			delete(b.bridgeSpaces, ns)
			continue
		}
		for time.Now().Before(deadline) {
			links, err := ns.Links()
			if err != nil || !hasPortInTransition(links) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// hasPortInTransition tells whether a bridge port has carrier but is not
// operationally up yet: its bridge does not forward through it yet.
func hasPortInTransition(links []LinkInfo) bool {
	for _, l := range links {
		if l.MasterIndex != 0 && l.Up && l.Carrier && l.Oper != "up" {
			return true
		}
	}
	return false
}
