package kernel

import (
	"sync"

	"github.com/vishvananda/netlink"
)

// One step of a playbook (one builtin call) reads a link and then changes
// it, or reads a bridge port's bridge and peer, several times over: the
// set_master of a star's host asked the kernel for the bridge's index three
// times and for the host's eth0 twice. So within a step a Backend
// remembers which index each link it read has, in each namespace, and a
// change or read that needs only the index (or a master's name) takes it
// from there; and once it has found a namespace's name to name it still
// (nameHolds), it does not look again (a star's host looked 15 times). A
// step that renames, moves or deletes a link or a namespace, runs or
// stops a command, or fails a change, forgets all of it at once,
// and so does the wait for the ends deleted namespaces take along; so does
// the end of the step. What another program (one the playbook spawned
// earlier, say) changes in the middle of a step is not seen, as it is not
// between a read and the change that follows it: the memo is never older
// than its step.
type steps struct {
	mu    sync.Mutex // a batch of echoes uses the namespaces from many goroutines
	depth int        // steps begun and not ended (one inside another counts once)
	gen   uint64     // bumped whenever everything remembered is forgotten
}

// linkMemo is what a namespace remembers within a step: the index of
// each link by name and the other way round, and whether its name was
// found to name it still, valid while gen is the steps' gen.
type linkMemo struct {
	gen      uint64
	byName   map[string]int
	byIndex  map[int]string
	nameHeld bool
}

func (s *steps) begin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.depth == 0 {
		s.gen++
	}
	s.depth++
}

func (s *steps) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.depth--
	if s.depth == 0 {
		s.gen++
	}
}

// forget forgets everything the namespaces remember.
func (s *steps) forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
}

// inStep runs f on n's memo, made anew when it is from before the last
// forget, when n is in a step.
func (n *NS) inStep(f func(m *linkMemo)) {
	if n.steps == nil {
		return
	}
	n.steps.mu.Lock()
	defer n.steps.mu.Unlock()
	if n.steps.depth == 0 {
		return
	}
	if n.links.gen != n.steps.gen || n.links.byName == nil {
		n.links = linkMemo{gen: n.steps.gen, byName: map[string]int{}, byIndex: map[int]string{}}
	}
	f(&n.links)
}

// noteLink remembers, within a step, that the link with index is named name.
func (n *NS) noteLink(name string, index int) {
	n.inStep(func(m *linkMemo) {
		if old, ok := m.byName[name]; ok && old != index {
			delete(m.byIndex, old)
		}
		if old, ok := m.byIndex[index]; ok && old != name {
			delete(m.byName, old)
		}
		m.byName[name], m.byIndex[index] = index, name
	})
}

// rememberedIndex is the index of the link named name, if the step read it.
func (n *NS) rememberedIndex(name string) (index int, ok bool) {
	n.inStep(func(m *linkMemo) { index, ok = m.byName[name] })
	return index, ok
}

// rememberedName is the name of the link with index, if the step read it.
func (n *NS) rememberedName(index int) (name string, ok bool) {
	n.inStep(func(m *linkMemo) { name, ok = m.byIndex[index] })
	return name, ok
}

// indexed is the link named name for a change or read that needs no more
// than its name and index: the step's memo, or a read.
func (n *NS) indexed(name string) (netlink.Link, error) {
	if err := n.Err(); err != nil {
		return nil, err
	}
	if index, ok := n.rememberedIndex(name); ok {
		return &netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: name, Index: index}}, nil
	}
	return n.link(name)
}
