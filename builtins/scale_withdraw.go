package builtins

// What the scale settings undo as a lab changes (docs/scale.md). A
// permanent neighbour entry holds for as long as its address is on the
// segment: left behind, it would send the frames for an address that
// moved to another host to a MAC that no longer has it, and the lab would
// fail where the kernel's own neighbour discovery works. So once an
// address goes, its entries go; and once a port leaves its bridge, or a
// port, its host or its bridge is deleted, renamed or moved (also with its
// namespace), everything the settings made for the port goes from what
// stays: its entries on both sides, its element of the lab's set
// quiet_mld, and its addrgenmode none, which gives way to the kernel's
// default (eui64).

import (
	"errors"
	"slices"

	"github.com/nsplay/nsplay/internal/model"
	"go.starlark.net/starlark"
)

// scaleBefore undoes, before op deletes, renames or moves a link, deletes
// a namespace or takes a port off its bridge, what the scale settings made
// for the ports it changes or takes along, on the links that stay.
func (env *Env) scaleBefore(thread *starlark.Thread, b *starlark.Builtin, op model.Op) error {
	switch op.(type) {
	case model.LinkDel, model.LinkRename, model.LinkMove, model.NetnsDel:
		env.scale.linksChange()
	}
	if len(env.scale.ports) == 0 {
		return nil
	}
	switch o := op.(type) {
	case model.LinkSetMaster:
		id, err := env.linkID(o.Link)
		if err != nil {
			return wrap(b, err)
		}
		if sp, ok := env.scale.byPort[id]; ok && o.Master != sp.bridge.Name {
			return env.leave(thread, b, sp, true)
		}
	case model.LinkDel, model.LinkRename, model.LinkMove:
		id, err := env.linkID(o.(model.OnLink).Target())
		if err != nil {
			return wrap(b, err)
		}
		_, deleted := op.(model.LinkDel)
		for _, sp := range slices.Clone(env.scale.ports) {
			var err error
			switch {
			case sp.bridgeID == id: // the ports leave the bridge
				err = env.leave(thread, b, sp, true)
			case sp.portID == id || sp.peer != nil && sp.peerID == id:
				// Deleting either end of a veth deletes both.
				err = env.leave(thread, b, sp, !deleted)
			}
			if err != nil {
				return err
			}
		}
	case model.NetnsDel:
		ino, err := env.Lab.B.Identity(model.Named(o.Name))
		if err != nil {
			return wrap(b, err)
		}
		for _, sp := range slices.Clone(env.scale.ports) {
			switch {
			case sp.bridgeID.ns == ino:
				// The bridge and its ports go with the namespace, and so
				// the veths of the ports, with the hosts' ends.
				env.scale.untrack(sp)
			case sp.peer != nil && sp.peerID.ns == ino:
				if err := env.leave(thread, b, sp, false); err != nil {
					return err
				}
			}
		}
		delete(env.scale.quietMLD, ino)
	}
	return nil
}

// scaleAfter follows op on a host or a bridge with entries: once it has
// deleted an address, it withdraws the entries for addresses the two no
// longer share; once it has set the link down, it forgets the link's
// entries, which the kernel drops then, the permanent ones too; and once
// it has set the link up, it makes them again.
func (env *Env) scaleAfter(thread *starlark.Thread, b *starlark.Builtin, op model.Op) error {
	var link model.LinkRef
	switch o := op.(type) {
	case model.AddrDel:
		link = o.Link
	case model.LinkSetUp:
		link = o.Link
	default:
		return nil
	}
	if len(env.scale.byHost) == 0 {
		return nil
	}
	id, err := env.linkID(link)
	if err != nil {
		return wrap(b, err)
	}
	// A host has one port; a bridge many, which are looked for only when
	// it is one: the hosts of a star are set up a thousand times.
	var on []*scalePort
	if sp, ok := env.scale.byHost[id]; ok {
		on = append(on, sp)
	} else if env.Lab.MadeBridge(link) {
		for _, sp := range env.scale.ports {
			if sp.host && sp.bridgeID == id {
				on = append(on, sp)
			}
		}
	}
	for _, sp := range on {
		var err error
		switch o := op.(type) {
		case model.AddrDel:
			err = env.resync(thread, b, sp)
		case model.LinkSetUp:
			if o.Up {
				if sp.flushed {
					sp.flushed = false
					err = env.joined(thread, b, sp.port, sp.bridge)
				}
				break
			}
			// The MAC stays: only the entries go; and its IPv6
			// addresses, whose entries on the other side go too.
			sp.made = slices.DeleteFunc(sp.made, func(n model.NeighAdd) bool { return n.Link == link })
			sp.flushed = true
			err = env.resync(thread, b, sp)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// resync deletes the entries made for sp whose addresses its bridge and
// host no longer share.
func (env *Env) resync(thread *starlark.Thread, b *starlark.Builtin, sp *scalePort) error {
	pairs, err := env.sharedSubnets(sp.bridge, *sp.peer)
	if err != nil {
		return wrap(b, err)
	}
	var kept []model.NeighAdd
	for _, op := range sp.made {
		shared := slices.ContainsFunc(pairs, func(p [2]string) bool {
			if op.Link == sp.bridge {
				return p[1] == op.IP // the host's address, on the bridge
			}
			return p[0] == op.IP // the bridge's, on the host
		})
		if shared {
			kept = append(kept, op)
			continue
		}
		if err := env.undo(thread, b, model.NeighDel{Link: op.Link, IP: op.IP}); err != nil {
			return err
		}
	}
	sp.made = kept
	return nil
}

// leave undoes what the settings made for sp, which leaves its bridge: its
// entries on the bridge, and where the port and host stay (portStays),
// those on the host, its element of quiet_mld and its addrgenmode none.
func (env *Env) leave(thread *starlark.Thread, b *starlark.Builtin, sp *scalePort, portStays bool) error {
	for _, op := range sp.made {
		if op.Link != sp.bridge && !portStays {
			continue // on the host, which goes
		}
		if err := env.undo(thread, b, model.NeighDel{Link: op.Link, IP: op.IP}); err != nil {
			return err
		}
	}
	if sp.quietMLD {
		// The set keeps a name, not a link: a link of that name made later
		// is not this port.
		if err := env.undo(thread, b, model.MLDQuietPortDel{Port: sp.port, Table: model.LabTable(env.Lab.Name)}); err != nil {
			return err
		}
	}
	if sp.noLinkLocal && portStays {
		if err := env.undo(thread, b, model.LinkLinkLocal{Link: sp.port}); err != nil {
			return err
		}
	}
	env.scale.untrack(sp)
	return nil
}

// undo makes a change that undoes one of the settings'. One the kernel
// has undone already is done: it drops a link's neighbour entries, the
// permanent ones too, when the link goes down or changes its MAC, and its
// ARP entries with its last IPv4 address.
func (env *Env) undo(thread *starlark.Thread, b *starlark.Builtin, op model.Op) error {
	if err := do(thread, b, env.Lab, op); err != nil && !errors.Is(err, model.ErrNotFound) {
		return err
	}
	return nil
}

// untrack forgets sp.
func (s *scaleState) untrack(sp *scalePort) {
	s.ports = slices.DeleteFunc(s.ports, func(p *scalePort) bool { return p == sp })
	if s.byPort[sp.portID] == sp {
		delete(s.byPort, sp.portID)
	}
	if s.byHost[sp.peerID] == sp {
		delete(s.byHost, sp.peerID)
	}
}

// linksChange is called before links go or change their names: the MACs
// set are no longer known (pin looks at them again). The entries made are,
// with the ports they were made for: what went took those along.
func (s *scaleState) linksChange() {
	for id, p := range s.pinned {
		s.pinned[id] = pinnedMAC{p.mac, false}
	}
}
