package model

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
)

// LinkSpec is what makes one kind of link: its kind-specific arguments.
// A new kind is a new LinkSpec (registered with registerKind) plus its
// kernel and in-memory implementations.
type LinkSpec interface {
	// Kind is the kernel's name for it: "bridge", "veth" (netlink's for a
	// tun/tap: "tuntap"), as LinkInfo.Kind reports it.
	Kind() string
	// TypeArgs is what follows "type KIND" in `ip link add`, "" for none.
	TypeArgs() string
	// Ends lists the links that creating the link as l makes: l, and for
	// a veth its peer.
	Ends(l LinkRef) []LinkRef
}

// kinds maps each spec's JSON name to its type.
var kinds = map[string]reflect.Type{}

func registerKind(name string, spec LinkSpec) bool {
	kinds[name] = reflect.TypeOf(spec)
	return true
}

// kindName is the JSON name of a spec's type.
func kindName(spec LinkSpec) string {
	t := reflect.TypeOf(spec)
	for name, kt := range kinds {
		if kt == t {
			return name
		}
	}
	return ""
}

// Bridge is a Linux bridge.
type Bridge struct {
	STP bool `json:"stp"`
	MTU int  `json:"mtu,omitempty"` // 0: the kernel's default
}

func (Bridge) Kind() string               { return "bridge" }
func (b Bridge) Ends(l LinkRef) []LinkRef { return []LinkRef{l} }
func (b Bridge) TypeArgs() string         { return "stp_state " + onOff(b.STP) }
func (b Bridge) CreatedMTU() int          { return b.MTU }

// createdMTU is a spec that gives its link an MTU as it is made; ip takes
// the mtu before "type", with the arguments every kind has.
type createdMTU interface{ CreatedMTU() int }

// Veth is a veth pair; Peer is the other end, which may be in another
// namespace: it is made there in the same request.
type Veth struct {
	Peer LinkRef `json:"peer"`
}

func (Veth) Kind() string               { return "veth" }
func (v Veth) Ends(l LinkRef) []LinkRef { return []LinkRef{l, v.Peer} }
func (v Veth) TypeArgs() string         { return "peer name " + v.Peer.Name }

// Other stands for a link the lab did not make with a spec of its own: one
// it found inside its namespace and follows because it was moved, or one
// an older journal recorded without its kind. Of is its kind, "" when not
// known.
type Other struct {
	Of string `json:"of,omitempty"`
}

func (o Other) Kind() string           { return o.Of }
func (Other) TypeArgs() string         { return "" }
func (Other) Ends(l LinkRef) []LinkRef { return []LinkRef{l} }

var _ = registerKind("bridge", Bridge{}) && registerKind("veth", Veth{}) && registerKind("other", Other{})

func onOff(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// LinkAdd creates a link.
type LinkAdd struct {
	Link LinkRef
	Spec LinkSpec
}

func (o LinkAdd) Text() string {
	if c, ok := o.Spec.(ownCommand); ok {
		return c.addText(o.Link)
	}
	if v, ok := o.Spec.(Veth); ok && v.Peer.NS.IsHost() && !o.Link.NS.IsHost() {
		// ip cannot name the start namespace after netns: the same pair
		// is made from the host's side, the other end sent to o.Link.NS.
		return Host.IP("link add " + v.Peer.Name + " type veth peer name " + o.Link.Name + " netns " + o.Link.NS.String())
	}
	in, s := o.Link.NS, "link add "+o.Link.Name
	if m, ok := o.Spec.(createdMTU); ok && m.CreatedMTU() > 0 {
		s += " mtu " + strconv.Itoa(m.CreatedMTU())
	}
	if p, ok := o.Spec.(OnParent); ok {
		parent := p.ParentLink()
		in, s = parent.NS, s+" link "+parent.Name
		if parent.NS != o.Link.NS {
			s += " netns " + o.Link.NS.String()
		}
	}
	s += " type " + o.Spec.Kind()
	if args := o.Spec.TypeArgs(); args != "" {
		s += " " + args
	}
	if v, ok := o.Spec.(Veth); ok && v.Peer.NS != o.Link.NS {
		s += " netns " + v.Peer.NS.String()
	}
	return in.IP(s)
}
func (o LinkAdd) Inverse() Op { return LinkDel{Link: o.Link} }

type linkAddJSON struct {
	Link LinkRef         `json:"link"`
	Kind string          `json:"kind"`
	Spec json.RawMessage `json:"spec"`
}

func (o LinkAdd) MarshalJSON() ([]byte, error) {
	spec, err := json.Marshal(o.Spec)
	if err != nil {
		return nil, err
	}
	name := kindName(o.Spec)
	if name == "" {
		return nil, fmt.Errorf("model: link spec %T is not registered", o.Spec)
	}
	return json.Marshal(linkAddJSON{Link: o.Link, Kind: name, Spec: spec})
}

func (o *LinkAdd) UnmarshalJSON(b []byte) error {
	var j linkAddJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	t, ok := kinds[j.Kind]
	if !ok {
		return fmt.Errorf("unknown link kind %q", j.Kind)
	}
	v := reflect.New(t)
	if err := json.Unmarshal(j.Spec, v.Interface()); err != nil {
		return fmt.Errorf("link kind %s: %w", j.Kind, err)
	}
	o.Link, o.Spec = j.Link, v.Elem().Interface().(LinkSpec)
	return nil
}

// Mismatch says how the link o made differs from what asked asks for in
// what it was made with, "" when it does not or this cannot tell: a veth
// made with another peer. A bridge's STP and MTU are not compared: they
// can be changed, and a re-run sets them again. The journal entry of a
// veth's other end records o with that end for its own peer, which tells
// nothing.
func (o LinkAdd) Mismatch(asked LinkAdd) string {
	made, want := o.Spec.Ends(o.Link), asked.Spec.Ends(asked.Link)
	if len(made) != len(want) {
		return ""
	}
	for i := 1; i < len(made); i++ {
		switch {
		case made[i] == o.Link:
			return ""
		case made[i] != want[i]:
			return fmt.Sprintf("it was made with %s for its other end, not %s", made[i], want[i])
		}
	}
	return ""
}

// LinkDel deletes a link; for a veth, both ends.
type LinkDel struct {
	Link LinkRef `json:"link"`
}

func (o LinkDel) Text() string { return o.Link.NS.IP("link del " + o.Link.Name) }
func (o LinkDel) Inverse() Op  { return nil }

// LinkSetUp sets a link administratively up, or down.
type LinkSetUp struct {
	Link LinkRef `json:"link"`
	Up   bool    `json:"up"`
}

func (o LinkSetUp) Text() string {
	return o.Link.NS.IP("link set " + o.Link.Name + " " + map[bool]string{true: "up", false: "down"}[o.Up])
}
func (o LinkSetUp) Inverse() Op { return nil }

// LinkSetMTU changes a link's MTU.
type LinkSetMTU struct {
	Link LinkRef `json:"link"`
	MTU  int     `json:"mtu"`
}

func (o LinkSetMTU) Text() string {
	return o.Link.NS.IP(fmt.Sprintf("link set %s mtu %d", o.Link.Name, o.MTU))
}
func (o LinkSetMTU) Inverse() Op { return nil }

// LinkSetMaster makes a link a port of a bridge in its namespace, or, with
// Master "", releases it.
type LinkSetMaster struct {
	Link   LinkRef `json:"link"`
	Master string  `json:"master,omitempty"`
}

func (o LinkSetMaster) Text() string {
	if o.Master == "" {
		return o.Link.NS.IP("link set " + o.Link.Name + " nomaster")
	}
	return o.Link.NS.IP("link set " + o.Link.Name + " master " + o.Master)
}
func (o LinkSetMaster) Inverse() Op { return nil }

// BridgeSetSTP turns a bridge's spanning tree protocol on or off.
type BridgeSetSTP struct {
	Link LinkRef `json:"link"`
	On   bool    `json:"on"`
}

func (o BridgeSetSTP) Text() string {
	return o.Link.NS.IP("link set " + o.Link.Name + " type bridge stp_state " + onOff(o.On))
}
func (o BridgeSetSTP) Inverse() Op { return nil }

// LinkMove moves a link into another namespace; it keeps its name.
type LinkMove struct {
	Link LinkRef `json:"link"`
	To   NSRef   `json:"to"`
}

func (o LinkMove) Text() string {
	return o.Link.NS.IP("link set " + o.Link.Name + " netns " + o.To.String())
}
func (o LinkMove) Inverse() Op { return LinkMove{Link: Link(o.To, o.Link.Name), To: o.Link.NS} }

// LinkRename renames a link.
type LinkRename struct {
	Link LinkRef `json:"link"`
	To   string  `json:"to"`
}

func (o LinkRename) Text() string { return o.Link.NS.IP("link set " + o.Link.Name + " name " + o.To) }
func (o LinkRename) Inverse() Op  { return LinkRename{Link: Link(o.Link.NS, o.To), To: o.Link.Name} }

// OnLink is an op that changes one link that is there: the backends find
// the link through it, whatever the op.
type OnLink interface {
	Op
	Target() LinkRef
}

func (o LinkDel) Target() LinkRef       { return o.Link }
func (o LinkSetUp) Target() LinkRef     { return o.Link }
func (o LinkSetMTU) Target() LinkRef    { return o.Link }
func (o LinkSetMaster) Target() LinkRef { return o.Link }
func (o BridgeSetSTP) Target() LinkRef  { return o.Link }
func (o LinkMove) Target() LinkRef      { return o.Link }
func (o LinkRename) Target() LinkRef    { return o.Link }
func (o AddrAdd) Target() LinkRef       { return o.Link }
func (o AddrDel) Target() LinkRef       { return o.Link }

// Moved tells where a link is after op, when op moves or renames it.
func Moved(op Op, l LinkRef) (LinkRef, bool) {
	switch o := op.(type) {
	case LinkMove:
		if o.Link == l {
			return Link(o.To, l.Name), true
		}
	case LinkRename:
		if o.Link == l {
			return Link(l.NS, o.To), true
		}
	}
	return l, false
}

var _ = register("link.add", LinkAdd{}) && register("link.del", LinkDel{}) &&
	register("link.up", LinkSetUp{}) && register("link.mtu", LinkSetMTU{}) &&
	register("link.master", LinkSetMaster{}) && register("bridge.stp", BridgeSetSTP{}) &&
	register("link.move", LinkMove{}) && register("link.rename", LinkRename{})
