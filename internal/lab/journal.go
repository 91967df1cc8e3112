package lab

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/nsplay/nsplay/internal/kernel"
)

// Object is one kernel object or file a lab created. The journal records it
// before it is created, so a lab can be taken down after nsplay was killed.
type Object struct {
	ID   int    `json:"id"`
	Kind string `json:"kind"` // "netns", "link", "route", "addr", "file", "dir", "proc"
	// NS is where the object is: "host", "netns:NAME", or "path:/proc/..".
	NS string `json:"ns,omitempty"`
	// Name is the namespace or link name, or the file's path.
	Name string `json:"name,omitempty"`
	// Born is the link's namespace and name when it was created: a re-run
	// that creates it again finds it by that, wherever it went since.
	Born  string            `json:"born,omitempty"`
	Link  string            `json:"link,omitempty"` // addr: the link it is on
	CIDR  string            `json:"cidr,omitempty"` // addr
	Route *kernel.RouteSpec `json:"route,omitempty"`
	PID   int               `json:"pid,omitempty"`   // proc
	Start uint64            `json:"start,omitempty"` // proc: its start time, against pid reuse
}

// record is one journal line.
type record struct {
	Op       string  `json:"op"` // "start", "add", "set" (moved or renamed), "gone", "keep"
	Obj      *Object `json:"obj,omitempty"`
	Playbook string  `json:"playbook,omitempty"` // start
	PID      int     `json:"pid,omitempty"`      // start
}

// journal is an append-only file of records; replaying it gives the objects
// the lab owns now, in creation order.
type journal struct {
	f *os.File
}

func openJournal(path string) (*journal, history, error) {
	h, err := replay(path)
	if err != nil {
		return nil, h, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, h, fmt.Errorf("open journal: %w", err)
	}
	j := &journal{f: f}
	if err := j.endTornLine(); err != nil {
		f.Close()
		return nil, h, err
	}
	return j, h, nil
}

// endTornLine ends a last line that a killed nsplay left unfinished, so the
// next record starts on a line of its own.
func (j *journal) endTornLine() error {
	st, err := j.f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	last := make([]byte, 1)
	if _, err := j.f.ReadAt(last, st.Size()-1); err != nil {
		return fmt.Errorf("read journal: %w", err)
	}
	if last[0] == '\n' {
		return nil
	}
	_, err = j.f.Write([]byte("\n"))
	return err
}

// history is what a journal says of its lab.
type history struct {
	objs     []*Object // live, in creation order
	playbook string    // of the last run
	kept     bool      // the last run ended with --keep
}

// replay reads a journal. A torn last line (nsplay killed mid-write) is
// ignored: its object was not created yet.
func replay(path string) (history, error) {
	var h history
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return h, fmt.Errorf("read journal: %w", err)
	}
	defer f.Close()
	var objs []*Object
	byID := map[int]*Object{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r record
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		switch r.Op {
		case "start":
			h.playbook, h.kept = r.Playbook, false
		case "keep":
			h.kept = true
		case "add":
			o := *r.Obj
			byID[o.ID] = &o
			objs = append(objs, &o)
		case "set":
			if o := byID[r.Obj.ID]; o != nil {
				o.NS, o.Name = r.Obj.NS, r.Obj.Name
			}
		case "gone":
			delete(byID, r.Obj.ID)
		}
	}
	for _, o := range objs {
		if byID[o.ID] == o {
			h.objs = append(h.objs, o)
		}
	}
	return h, sc.Err()
}

func (j *journal) write(r record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	return nil
}

func (j *journal) close() error { return j.f.Close() }
