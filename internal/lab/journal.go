package lab

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nsplay/nsplay/internal/model"
)

// entry is one thing the lab made that outlives the step that made it: a
// namespace, a link, an address or route outside the lab's namespaces, a
// file, a folder, a process. Undo is the op that removes it from where it
// is now; Do is the op that made it.
type entry struct {
	ID int
	Do model.Op
	// At is a link's place now (moves and renames follow it); Born where
	// it was made, so a re-run that makes it again finds it.
	At, Born model.LinkRef
	// NSIno is the identity of the namespace the entry is (a netns), or is
	// in, once known: a namespace of the same name made by someone else is
	// not the lab's.
	NSIno uint64
	// Index is a link's ifindex where it is now, once known, for a link
	// outside the lab's namespaces (inside, the namespace's identity
	// tells): one of the same name that someone else made after the lab's
	// was deleted is not the lab's. The kernel gives an index to no other
	// link of the namespace while the link is there.
	Index int
}

// undo is the op that removes the entry from where it is now.
func (e *entry) undo() model.Op {
	if _, ok := e.Do.(model.LinkAdd); ok {
		return model.LinkDel{Link: e.At}
	}
	return e.Do.Inverse()
}

// ns is the namespace the entry is in, or, for a netns, itself.
func (e *entry) ns() model.NSRef {
	switch o := e.Do.(type) {
	case model.NetnsAdd:
		return model.Named(o.Name)
	case model.LinkAdd:
		return e.At.NS
	case model.AddrAdd:
		return o.Link.NS
	case model.RouteAdd:
		return o.NS
	case model.QdiscSet:
		return o.Link.NS
	case model.InNamespace:
		return o.Namespace()
	}
	return model.Host
}

// check refuses an entry that names what no lab makes. Teardown acts on
// the names a journal holds: a damaged one must not make it unmount and
// remove /run/netns/../x, or a relative path.
func (e *entry) check() error {
	var errs []error
	switch o := e.Do.(type) {
	case model.NetnsAdd:
		errs = append(errs, model.ValidNetnsName(o.Name))
	case model.LinkAdd:
		for _, end := range append(o.Spec.Ends(o.Link), e.At) {
			errs = append(errs, checkLink(end))
		}
	case model.AddrAdd:
		errs = append(errs, checkLink(o.Link))
	case model.RouteAdd:
		errs = append(errs, checkNS(o.NS))
	case model.FileWrite:
		errs = append(errs, checkPath(o.Path))
	case model.DirAdd:
		errs = append(errs, checkPath(o.Path))
	case model.ProcStart:
		if o.PID <= 0 {
			errs = append(errs, fmt.Errorf("process id %d", o.PID))
		}
	}
	return errors.Join(errs...)
}

func checkNS(ns model.NSRef) error {
	if ns.Name() == "" {
		return nil
	}
	return model.ValidNetnsName(ns.Name())
}

func checkLink(l model.LinkRef) error {
	return errors.Join(checkNS(l.NS), model.ValidLinkName(l.Name))
}

func checkPath(path string) error {
	if !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return fmt.Errorf("%q is not a clean absolute path", path)
	}
	return nil
}

// record is one journal line. The journal is written before each change,
// so a lab can be taken down after nsplay was killed.
type record struct {
	Rec      string          `json:"rec"` // "start", "do", "at" (moved or renamed), "ino", "index", "gone", "keep"
	ID       int             `json:"id,omitempty"`
	Op       *model.Recorded `json:"op,omitempty"`      // do
	At       *model.LinkRef  `json:"at,omitempty"`      // at
	NSIno    uint64          `json:"nsino,omitempty"`   // do, at, ino
	Index    int             `json:"ifindex,omitempty"` // at, index
	Playbook string          `json:"playbook,omitempty"`
	PID      int             `json:"pid,omitempty"`
}

// journal is an append-only file of records; replaying it gives what the
// lab owns now, in creation order. Without a file (a plan) it keeps nothing:
// the lab's entries are all there is.
type journal struct{ f *os.File }

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
// what it was about was not done yet, and the next record must start on a
// line of its own.
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
	entries  []*entry // live, in creation order
	playbook string   // of the last run
	pid      int      // of the last run
	kept     bool     // the last run ended with --keep
}

// replay reads a journal. A torn last line (nsplay killed mid-write) is
// ignored: what it was about was not done yet. A journal of nsplay 0.1
// (records with "obj") is read too.
func replay(path string) (history, error) {
	var h history
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return h, fmt.Errorf("read journal: %w", err)
	}
	return parseJournal(path, data)
}

// parseJournal reads the journal at path, whose content is data.
func parseJournal(path string, data []byte) (history, error) {
	var h history
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		return h, fmt.Errorf("journal %s is damaged at line %d (%v); remove what it lists by hand", path, len(lines)+1, err)
	}
	byID := map[int]*entry{}
	var all []*entry
	for i, line := range lines {
		made := len(all)
		err := h.apply(line, byID, &all)
		for _, e := range all[made:] {
			err = errors.Join(err, e.check())
		}
		if err != nil {
			if i == len(lines)-1 && len(data) > 0 && data[len(data)-1] != '\n' {
				break // torn by a kill mid-write
			}
			return h, fmt.Errorf("journal %s is damaged at line %d (%v); remove what it lists by hand", path, i+1, err)
		}
	}
	for _, e := range all {
		if byID[e.ID] == e {
			h.entries = append(h.entries, e)
		}
	}
	return h, nil
}

// apply folds one journal line into the history.
func (h *history) apply(line []byte, byID map[int]*entry, all *[]*entry) error {
	var kind struct {
		Rec string `json:"rec"`
	}
	if err := json.Unmarshal(line, &kind); err != nil {
		return err
	}
	if kind.Rec == "" {
		return h.applyV1(line, byID, all)
	}
	var r record
	if err := json.Unmarshal(line, &r); err != nil {
		return err
	}
	switch r.Rec {
	case "start":
		h.playbook, h.pid, h.kept = r.Playbook, r.PID, false
	case "keep":
		h.kept = true
	case "do":
		if r.Op == nil || r.Op.Op == nil {
			return errors.New("a do record without an op")
		}
		e := &entry{ID: r.ID, Do: r.Op.Op, NSIno: r.NSIno}
		if add, ok := e.Do.(model.LinkAdd); ok {
			e.At, e.Born = add.Link, add.Link
		}
		byID[e.ID] = e
		*all = append(*all, e)
	case "at":
		if e := byID[r.ID]; e != nil && r.At != nil {
			if err := checkLink(*r.At); err != nil {
				return err
			}
			e.At, e.NSIno, e.Index = *r.At, r.NSIno, r.Index
		}
	case "ino":
		if e := byID[r.ID]; e != nil {
			e.NSIno = r.NSIno
		}
	case "index":
		if e := byID[r.ID]; e != nil {
			e.Index = r.Index
		}
	case "gone":
		delete(byID, r.ID)
	default:
		return fmt.Errorf("unknown record %q", r.Rec)
	}
	return nil
}

func (j *journal) write(r record) error {
	if j.f == nil {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	return nil
}

func (j *journal) close() error {
	if j.f == nil {
		return nil
	}
	return j.f.Close()
}
