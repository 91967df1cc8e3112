package lab_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
	"golang.org/x/sys/unix"
)

// Every test binary of this package runs in a sandbox of its own (fresh
// network namespace, private /run and so /run/nsplay, overlay /etc): see
// internal/testenv. The sandbox's start namespace plays the host.
func TestMain(m *testing.M) { testenv.Main(m) }

// paths are the machine's: inside the sandbox they are the test's own.
var paths = model.DefaultPaths

var seq atomic.Int64

// uniq returns a name no other test of this binary uses; short enough for
// a link name.
func uniq(prefix string) string { return fmt.Sprintf("%s%d", prefix, seq.Add(1)) }

// newBackend opens the kernel backend with the test's own namespace as
// the lab's host.
func newBackend(t *testing.T) *kernel.Backend {
	t.Helper()
	b, err := kernel.NewBackend(paths)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// backendIn opens a kernel backend whose host is the named namespace, as
// an nsplay started inside it would. The thread that opens it is left
// locked, so the runtime discards it rather than let it serve another
// goroutine from inside that namespace.
func backendIn(t *testing.T, netns string) *kernel.Backend {
	t.Helper()
	type opened struct {
		b   *kernel.Backend
		err error
	}
	done := make(chan opened)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open(filepath.Join(paths.RunNetns, netns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- opened{err: err}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			done <- opened{err: err}
			return
		}
		b, err := kernel.NewBackend(paths)
		done <- opened{b, err}
	}()
	o := <-done
	if o.err != nil {
		t.Fatalf("open a backend in %s: %v", netns, o.err)
	}
	t.Cleanup(o.b.Close)
	return o.b
}

// newLabName returns a fresh lab name; when the test ends, whatever a lab
// of that name left behind is taken down, so a failing test leaves nothing.
func newLabName(t *testing.T, b model.Backend) string {
	t.Helper()
	name := uniq("lab")
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(paths.Labs, name)); err != nil {
			return
		}
		if err := lab.Down(name, b, paths, func(string) {}); err != nil {
			t.Errorf("clean up lab %s: %v", name, err)
		}
	})
	return name
}

// openLab opens the lab for a run of test.star and closes it (without
// teardown) when the test ends; closing twice, or after Teardown, is
// harmless.
// newLab opens a lab of a new name on a new kernel backend, for a test
// that runs as root; the lab is brought down after the test if it is up.
func newLab(t *testing.T) (*lab.Lab, string, *kernel.Backend) {
	t.Helper()
	testenv.RequireRoot(t)
	b := newBackend(t)
	name := newLabName(t, b)
	return openLab(t, name, b), name, b
}

func openLab(t *testing.T, name string, b model.Backend) *lab.Lab {
	t.Helper()
	return openLabPlaybook(t, name, b, "test.star")
}

func openLabPlaybook(t *testing.T, name string, b model.Backend, playbook string) *lab.Lab {
	t.Helper()
	l, err := lab.Open(name, b, paths, playbook)
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	t.Cleanup(l.Close)
	return l
}

// do makes a change through the lab; the test fails if it fails.
func do(t *testing.T, l *lab.Lab, op model.Op) lab.Result {
	t.Helper()
	res, err := l.Do(op)
	if err != nil {
		t.Fatalf("%s: %v", op.Text(), err)
	}
	return res
}

// outsideNS creates a namespace the lab did not create (with ip), removed
// when the test ends.
func outsideNS(t *testing.T) string {
	t.Helper()
	name := uniq("out")
	testenv.IP(t, "netns", "add", name)
	t.Cleanup(func() {
		if err := exec.Command("ip", "netns", "del", name).Run(); err != nil && kernel.NamedExists(paths.RunNetns, name) {
			t.Errorf("clean up namespace %s: %v", name, err)
		}
	})
	return name
}

// outsideVeth creates a veth pair that the lab did not create (with ip) in
// a namespace ("" for the host), deleted when the test ends.
func outsideVeth(t *testing.T, netns string) (string, string) {
	t.Helper()
	a, b := uniq("xa"), uniq("xb")
	testenv.IP(t, ipIn(netns, "link", "add", a, "type", "veth", "peer", "name", b)...)
	t.Cleanup(func() {
		if hasLink(t, netns, a) {
			testenv.IP(t, ipIn(netns, "link", "del", a)...)
		}
	})
	return a, b
}

// ipIn prefixes ip arguments with -n netns, unless netns is "" (the host).
func ipIn(netns string, args ...string) []string {
	if netns == "" {
		return args
	}
	return append([]string{"-n", netns}, args...)
}

// ipName is how ip -n names a ref's namespace: "" for the host.
func ipName(ns model.NSRef) string { return ns.Name() }

// veth is the op that makes a veth pair.
func veth(ns model.NSRef, name string, peerNS model.NSRef, peer string) model.LinkAdd {
	return model.LinkAdd{Link: model.Link(ns, name), Spec: model.Veth{Peer: model.Link(peerNS, peer)}}
}

// bridge is the op that makes a bridge in the host.
func bridge(name string) model.LinkAdd {
	return model.LinkAdd{Link: model.Link(model.Host, name), Spec: model.Bridge{}}
}

func up(ns model.NSRef, link string) model.LinkSetUp {
	return model.LinkSetUp{Link: model.Link(ns, link), Up: true}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// hasLink tells whether ip sees the link in a namespace ("" for the host).
func hasLink(t *testing.T, netns, link string) bool {
	t.Helper()
	_, ok := testenv.Links(t, netns)[link]
	return ok
}

// linkNames lists the links of a namespace ("" for the host) as ip sees them.
func linkNames(t *testing.T, netns string) []string {
	t.Helper()
	var names []string
	for name := range testenv.Links(t, netns) {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// ipHasAddr tells whether ip shows the address on the link.
func ipHasAddr(t *testing.T, netns, link, cidr string) bool {
	t.Helper()
	var out []struct {
		AddrInfo []struct {
			Local     string `json:"local"`
			Prefixlen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	testenv.IPJSON(t, &out, ipIn(netns, "addr", "show", "dev", link)...)
	for _, l := range out {
		for _, a := range l.AddrInfo {
			if fmt.Sprintf("%s/%d", a.Local, a.Prefixlen) == cidr {
				return true
			}
		}
	}
	return false
}

// ipRoutes returns `ip route show` of a namespace ("" for the host) in
// ip's own words, one route a line.
func ipRoutes(t *testing.T, netns string) string {
	t.Helper()
	return testenv.IP(t, ipIn(netns, "route", "show")...)
}

// journalEntry is one thing a lab's journal says the lab owns.
type journalEntry struct {
	ID int
	Op model.Op
	At model.LinkRef // a link's place now
}

// journalEntries reads the lab's journal file as a later nsplay would,
// and returns what it says the lab owns now, in creation order. It reads
// the records the lab writes (do, at, ino, gone, start, keep) and fails the
// test on any other line, a torn one included.
func journalEntries(t *testing.T, name string) []journalEntry {
	t.Helper()
	f, err := os.Open(filepath.Join(paths.Labs, name, "journal"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	must(t, err)
	defer f.Close()
	var live []*journalEntry
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		var r struct {
			Rec string          `json:"rec"`
			ID  int             `json:"id"`
			Op  *model.Recorded `json:"op"`
			At  *model.LinkRef  `json:"at"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("journal of %s, line %d %q: %v", name, n, sc.Text(), err)
		}
		switch r.Rec {
		case "do":
			e := &journalEntry{ID: r.ID, Op: r.Op.Op}
			if add, ok := e.Op.(model.LinkAdd); ok {
				e.At = add.Link
			}
			live = append(live, e)
		case "at":
			for _, e := range live {
				if e.ID == r.ID {
					e.At = *r.At
				}
			}
		case "gone":
			live = slices.DeleteFunc(live, func(e *journalEntry) bool { return e.ID == r.ID })
		case "start", "keep", "ino", "index":
		default:
			t.Fatalf("journal of %s, line %d: unknown record %q", name, n, sc.Text())
		}
	}
	must(t, sc.Err())
	entries := make([]journalEntry, len(live))
	for i, e := range live {
		entries[i] = *e
	}
	return entries
}

// objects summarizes what the lab's journal says it owns as "kind ns name"
// lines, and checks that lab.List counts as many.
func objects(t *testing.T, name string) []string {
	t.Helper()
	var out []string
	for _, e := range journalEntries(t, name) {
		var s string
		switch o := e.Op.(type) {
		case model.NetnsAdd:
			s = "netns " + o.Name
		case model.LinkAdd:
			s = "link " + e.At.NS.Key() + " " + e.At.Name
		case model.AddrAdd:
			s = "addr " + o.Link.NS.Key() + " " + o.Link.Name + " " + o.CIDR
		case model.RouteAdd:
			s = "route " + o.NS.Key() + " " + o.Route.Dst
		case model.DirAdd:
			s = "dir " + o.Path
		case model.FileWrite:
			s = "file " + o.Path
		case model.ProcStart:
			s = fmt.Sprintf("proc %s %d %d", o.Command, o.PID, o.Start)
		default:
			s = fmt.Sprintf("%T %s", o, o.Text())
		}
		out = append(out, s)
	}
	if info, ok := labInfo(t, name); ok && info.Objects != len(out) {
		t.Errorf("lab.List counts %d objects of lab %s, its journal holds %d:\n  %s", info.Objects, name, len(out), strings.Join(out, "\n  "))
	}
	return out
}

// countKind counts what the lab's journal says it owns of a kind.
func countKind(t *testing.T, name, kind string) int {
	t.Helper()
	n := 0
	for _, o := range objects(t, name) {
		if strings.HasPrefix(o, kind+" ") {
			n++
		}
	}
	return n
}

// appendJournal adds a raw line to a lab's journal, as a killed nsplay or
// an older version would have left it; "\n" ends it unless torn.
func appendJournal(t *testing.T, name, line string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(paths.Labs, name, "journal"), os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	_, err = f.WriteString(line)
	must(t, err)
	must(t, f.Close())
}

// doRecord is the journal line that records op, as the lab writes it
// before it makes the change.
func doRecord(t *testing.T, id int, op model.Op) string {
	t.Helper()
	enc, err := model.Encode(op)
	must(t, err)
	return fmt.Sprintf(`{"rec":"do","id":%d,"op":%s}`+"\n", id, enc)
}

// labInfo returns what List says of a lab, and whether it lists it.
func labInfo(t *testing.T, name string) (lab.Info, bool) {
	t.Helper()
	infos, err := lab.List(paths)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range infos {
		if i.Name == name {
			return i, true
		}
	}
	return lab.Info{}, false
}

// waitOperUp waits until ip shows the link operationally up (the kernel's
// linkwatch work runs up to a second after a carrier change, and seconds
// later on a machine busy with other tests).
func waitOperUp(t *testing.T, netns, link string) {
	t.Helper()
	for start := time.Now(); time.Since(start) < 15*time.Second; time.Sleep(10 * time.Millisecond) {
		if l, ok := testenv.Links(t, netns)[link]; ok && l.OperState == "UP" {
			return
		}
	}
	t.Fatalf("%s in %q never came operationally up", link, netns)
}

func contains(list []string, prefix string) bool {
	return index(list, prefix) >= 0
}

func index(list []string, prefix string) int {
	return slices.IndexFunc(list, func(s string) bool { return strings.HasPrefix(s, prefix) })
}

// endLab ends lab l (named name, on b): by teardown, or, after a crash
// (its journal left as it is), by `nsplay down`; it returns what either
// reported.
func endLab(t *testing.T, l *lab.Lab, name string, b model.Backend, crash bool) []string {
	t.Helper()
	var reports []string
	report := func(s string) { reports = append(reports, s) }
	if crash {
		l.Close()
		must(t, lab.Down(name, b, paths, report))
	} else {
		must(t, l.Teardown(report))
	}
	return reports
}
