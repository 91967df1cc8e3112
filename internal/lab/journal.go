package lab

import (
	"bufio"
	"bytes"
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
	// NSIno is the inode of the namespace (netns), or of the namespace
	// the object is in (link, route, addr), once known: a namespace of the
	// same name or path made by someone else is not the lab's.
	NSIno uint64 `json:"nsino,omitempty"`
	PID   int    `json:"pid,omitempty"`   // proc
	Start uint64 `json:"start,omitempty"` // proc: its start time, against pid reuse
}

// same tells whether o and x are the same object, as far as two journals
// can tell: of one kind and name, in one namespace.
func (o *Object) same(x *Object) bool {
	sameRoute := o.Route == x.Route || o.Route != nil && x.Route != nil && *o.Route == *x.Route
	return o.Kind == x.Kind && o.NS == x.NS && o.Name == x.Name && o.Link == x.Link && o.CIDR == x.CIDR && sameRoute &&
		sameInode(o.NSIno, x.NSIno)
}

// inside tells whether o is in the namespace x, by its inode: by name,
// the same namespace may be "netns:NAME" or "path:/run/netns/NAME".
func (o *Object) inside(x *Object) bool {
	return x.Kind == "netns" && o.NSIno != 0 && o.NSIno == x.NSIno
}

// sameInode tells whether two namespace inodes agree, where 0 is not known.
func sameInode(a, b uint64) bool { return a == 0 || b == 0 || a == b }

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

// endTornLine cuts off a last line that a killed nsplay left unfinished:
// the object it was about was not made yet, and the next record must start
// on a line of its own.
func (j *journal) endTornLine() error {
	data, err := os.ReadFile(j.f.Name())
	if err != nil {
		return fmt.Errorf("read journal: %w", err)
	}
	if len(data) == 0 || data[len(data)-1] == '\n' {
		return nil
	}
	if err := j.f.Truncate(int64(bytes.LastIndexByte(data, '\n') + 1)); err != nil {
		return fmt.Errorf("cut the torn end off the journal: %w", err)
	}
	return nil
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
	var lines [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	for i, line := range lines {
		var r record
		if err := json.Unmarshal(line, &r); err != nil || (r.Op != "start" && r.Op != "keep" && r.Obj == nil) {
			if i == len(lines)-1 {
				break // torn by a kill mid-write: its object was not made
			}
			return h, fmt.Errorf("journal %s is damaged at line %d; remove what it lists by hand", path, i+1)
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
				o.NS, o.Name, o.NSIno = r.Obj.NS, r.Obj.Name, r.Obj.NSIno
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
