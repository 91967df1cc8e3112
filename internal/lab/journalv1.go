package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nsplay/nsplay/internal/model"
)

// v1 records are what nsplay 0.1 journalled: objects rather than
// operations. A lab it kept is read into entries, so that `nsplay down`
// and a re-run of this version take it down and adopt it.
type v1Record struct {
	Op       string    `json:"op"` // "start", "add", "set", "gone", "keep"
	Obj      *v1Object `json:"obj"`
	Playbook string    `json:"playbook"`
	PID      int       `json:"pid"`
}

type v1Object struct {
	ID    int          `json:"id"`
	Kind  string       `json:"kind"`
	NS    string       `json:"ns"`
	Name  string       `json:"name"`
	Born  string       `json:"born"`
	Link  string       `json:"link"`
	CIDR  string       `json:"cidr"`
	Route *model.Route `json:"route"`
	NSIno uint64       `json:"nsino"`
	PID   int          `json:"pid"`
	Start uint64       `json:"start"`
}

func (h *history) applyV1(line []byte, byID map[int]*entry, all *[]*entry) error {
	var r v1Record
	if err := json.Unmarshal(line, &r); err != nil {
		return err
	}
	switch r.Op {
	case "start":
		h.playbook, h.pid, h.kept = r.Playbook, r.PID, false
		return nil
	case "keep":
		h.kept = true
		return nil
	}
	if r.Obj == nil {
		return errors.New("a record without an object")
	}
	o := r.Obj
	switch r.Op {
	case "gone":
		delete(byID, o.ID)
		return nil
	case "set":
		if e := byID[o.ID]; e != nil {
			ns, err := v1NS(o.NS)
			if err != nil {
				return err
			}
			if _, ok := e.Do.(model.LinkAdd); ok {
				e.At = model.Link(ns, o.Name)
				if err := checkLink(e.At); err != nil {
					return err
				}
			}
		}
		return nil
	case "add":
	default:
		return fmt.Errorf("unknown record %q", r.Op)
	}
	e, err := v1Entry(o)
	if err != nil {
		return err
	}
	byID[e.ID] = e
	*all = append(*all, e)
	return nil
}

// v1Entry turns an object of nsplay 0.1 into the entry that made it.
func v1Entry(o *v1Object) (*entry, error) {
	// 0.1 journalled namespace inodes; identities are netns cookies now,
	// so a 0.1 entry's namespace is taken for the lab's by name.
	e := &entry{ID: o.ID}
	ns, err := v1NS(o.NS)
	if err != nil && o.NS != "" {
		return nil, err
	}
	switch o.Kind {
	case "netns":
		e.Do = model.NetnsAdd{Name: o.Name}
	case "link":
		born := model.Link(ns, o.Name)
		if bns, name, ok := strings.Cut(o.Born, "/"); ok {
			if ref, err := v1NS(bns); err == nil {
				born = model.Link(ref, name)
			}
		}
		// Its kind was not journalled; deleting a link needs none.
		e.Do, e.At, e.Born = model.LinkAdd{Link: born, Spec: model.Other{}}, model.Link(ns, o.Name), born
	case "addr":
		e.Do = model.AddrAdd{Link: model.Link(ns, o.Link), CIDR: o.CIDR}
	case "route":
		if o.Route == nil {
			return nil, errors.New("a route without its spec")
		}
		e.Do = model.RouteAdd{NS: ns, Route: *o.Route}
	case "file":
		e.Do = model.FileWrite{Path: o.Name}
	case "dir":
		e.Do = model.DirAdd{Path: o.Name}
	case "proc":
		e.Do = model.ProcStart{PID: o.PID, Start: o.Start, Command: o.Name}
	default:
		return nil, fmt.Errorf("unknown object kind %q", o.Kind)
	}
	return e, nil
}

func v1NS(key string) (model.NSRef, error) {
	if key == "" {
		return model.Host, nil
	}
	return model.ParseNSRef(key)
}
