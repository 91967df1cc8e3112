package lab_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

func TestOpenTakesTheLock(t *testing.T) {
	l, name, b := newLab(t)
	if l.Name != name || l.B != model.Backend(b) || l.Paths != paths {
		t.Errorf("Open: Name %q B %v Paths %+v", l.Name, l.B, l.Paths)
	}
	if _, err := os.Stat(filepath.Join(paths.Labs, name, "lock")); err != nil {
		t.Errorf("no lock file: %v", err)
	}

	_, err := lab.Open(name, b, paths, "other.star")
	if !errors.Is(err, lab.ErrBusy) {
		t.Fatalf("a second Open of a held lab: %v, want ErrBusy", err)
	}
	if !strings.Contains(err.Error(), name) {
		t.Errorf("ErrBusy %q does not name the lab", err)
	}
	if pid := fmt.Sprintf("nsplay (pid %d) is running it", os.Getpid()); !strings.Contains(err.Error(), pid) {
		t.Errorf("ErrBusy %q does not name the process that holds the lab: want %q", err, pid)
	}
	// Down of a lab another nsplay runs is refused too.
	if err := lab.Down(name, b, paths, func(string) {}); !errors.Is(err, lab.ErrBusy) {
		t.Errorf("Down of a held lab: %v, want ErrBusy", err)
	}

	l.Close()
	again, err := lab.Open(name, b, paths, "test.star")
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	again.Close()
}

func TestOpenRejectsBadNames(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	for _, name := range []string{"", ".hidden", "-flag", "a/b", "..", "a b", strings.Repeat("x", 65), "ä"} {
		if l, err := lab.Open(name, b, paths, ""); err == nil {
			l.Close()
			t.Errorf("Open(%q) succeeded", name)
			os.RemoveAll(filepath.Join(paths.Labs, name))
		}
	}
	for _, name := range []string{"lxcbr0", "star_10.v2-x", strings.Repeat("x", 64)} {
		l, err := lab.Open(name, b, paths, "")
		if err != nil {
			t.Errorf("Open(%q): %v", name, err)
			continue
		}
		must(t, l.Teardown(func(string) {}))
	}
}

func TestList(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	running, kept, orphaned := newLabName(t, b), newLabName(t, b), newLabName(t, b)

	r := openLab(t, running, b)
	do(t, r, model.NetnsAdd{Name: uniq("ls")})

	k, err := lab.Open(kept, b, paths, "kept.star")
	must(t, err)
	do(t, k, model.NetnsAdd{Name: uniq("ls")})
	must(t, k.Keep())

	o, err := lab.Open(orphaned, b, paths, "orphan.star")
	must(t, err)
	do(t, o, model.NetnsAdd{Name: uniq("ls")})
	o.Close() // given up on: neither torn down nor kept

	pid := os.Getpid()
	for _, want := range []lab.Info{
		{Name: running, Playbook: "test.star", Objects: 1, PID: pid, Holder: pid, State: "running"},
		{Name: kept, Playbook: "kept.star", Objects: 1, PID: pid, State: "kept"},
		{Name: orphaned, Playbook: "orphan.star", Objects: 1, PID: pid, State: "orphaned"},
	} {
		got, ok := labInfo(t, want.Name)
		if !ok || got != want {
			t.Errorf("List: %+v (listed: %v), want %+v", got, ok, want)
		}
	}

	// Re-opening a kept lab without a playbook keeps the playbook's name;
	// while it is open it runs.
	k2 := openLabPlaybook(t, kept, b, "")
	if got, _ := labInfo(t, kept); got.State != "running" || got.Playbook != "kept.star" {
		t.Errorf("List of a reopened kept lab: %+v", got)
	}
	k2.Close()

	r.Close()
	if got, _ := labInfo(t, running); got.State != "orphaned" {
		t.Errorf("List after Close: %+v, want orphaned", got)
	}
	must(t, lab.Down(running, b, paths, func(string) {}))
	if _, ok := labInfo(t, running); ok {
		t.Errorf("List still shows %s after Down", running)
	}
}

// labView is what a lab knows of what it owns, as its methods tell.
type labView struct {
	Namespaces          []string
	InHost, InNS1       []string
	OwnsNS1, OwnsNS2    bool
	OwnsEth0, OwnsB     bool
	OwnsA, OwnsC, OwnsD bool
}

// The journal gives a reopened lab exactly the objects it had, including
// moves, renames and deletions, so a re-run adopts them.
func TestJournalReplay(t *testing.T) {
	testenv.RequireRoot(t)
	bk := newBackend(t)
	name := newLabName(t, bk)
	l := openLab(t, name, bk)

	ns1, ns2 := uniq("jr"), uniq("jr")
	do(t, l, model.NetnsAdd{Name: ns1})
	do(t, l, model.NetnsAdd{Name: ns2})
	a, b := uniq("ja"), uniq("jb")
	do(t, l, veth(model.Host, a, model.Host, b))
	do(t, l, model.LinkMove{Link: model.Link(model.Host, a), To: model.Named(ns1)})
	do(t, l, model.LinkRename{Link: model.Link(model.Named(ns1), a), To: "eth0"})
	c, d := uniq("jc"), uniq("jd")
	do(t, l, veth(model.Host, c, model.Host, d))
	if _, err := l.DoAt(model.LinkDel{Link: model.Link(model.Host, c)}, "test.star:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.DoAt(model.NetnsDel{Name: ns2}, "test.star:2"); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("/run", uniq("jdir"))
	do(t, l, model.FileWrite{Path: filepath.Join(dir, "f"), Data: "x"})

	want := []string{
		"netns " + ns1,
		"link netns:" + ns1 + " eth0",
		"link host " + b,
		"dir " + dir,
		"file " + filepath.Join(dir, "f"),
	}
	if got := objects(t, name); !slices.Equal(got, want) {
		t.Errorf("the journal before Close:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	view := func(l *lab.Lab) labView {
		return labView{
			Namespaces: l.Namespaces(),
			InHost:     l.LinksIn(model.Host), InNS1: l.LinksIn(model.Named(ns1)),
			OwnsNS1: l.OwnsNS(model.Named(ns1)), OwnsNS2: l.OwnsNS(model.Named(ns2)),
			OwnsEth0: l.OwnsLink(model.Link(model.Named(ns1), "eth0")), OwnsB: l.OwnsLink(model.Link(model.Host, b)),
			OwnsA: l.OwnsLink(model.Link(model.Host, a)), OwnsC: l.OwnsLink(model.Link(model.Host, c)), OwnsD: l.OwnsLink(model.Link(model.Host, d)),
		}
	}
	before := view(l)
	if want := (labView{Namespaces: []string{ns1}, InHost: []string{b}, InNS1: []string{"eth0"}, OwnsNS1: true, OwnsEth0: true, OwnsB: true}); !reflect.DeepEqual(before, want) {
		t.Errorf("the lab before Close: %+v, want %+v", before, want)
	}
	l.Close()

	l = openLab(t, name, bk)
	if after := view(l); !reflect.DeepEqual(after, before) {
		t.Errorf("the lab after reopening:\n  %+v\nbefore Close:\n  %+v", after, before)
	}
	// What it owns it adopts: the veth where it went, the file as its own.
	if res := do(t, l, veth(model.Host, a, model.Host, b)); !res.Adopted || res.At != model.Link(model.Named(ns1), "eth0") {
		t.Errorf("the veth on reopening = %+v, want adopted as eth0 in %s", res, ns1)
	}
	do(t, l, model.FileWrite{Path: filepath.Join(dir, "f"), Data: "y"})
	if got := objects(t, name); !slices.Equal(got, want) {
		t.Errorf("the journal after adopting:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	// New objects get new IDs.
	maxID := 0
	for _, e := range journalEntries(t, name) {
		maxID = max(maxID, e.ID)
	}
	ns3 := uniq("jr")
	do(t, l, model.NetnsAdd{Name: ns3})
	entries := journalEntries(t, name)
	if last := entries[len(entries)-1]; last.ID <= maxID || last.Op != model.Op(model.NetnsAdd{Name: ns3}) {
		t.Errorf("a new object got ID %d (%+v), not above the journal's %d", last.ID, last, maxID)
	}
	var reports []string
	must(t, l.Teardown(func(s string) { reports = append(reports, s) }))
	for _, want := range []string{"ip netns del " + ns1, "ip netns del " + ns3, "rm " + filepath.Join(dir, "f"), "rmdir " + dir} {
		if !slices.Contains(reports, want) {
			t.Errorf("the teardown did not %q:\n  %s", want, strings.Join(reports, "\n  "))
		}
	}
	if hasLink(t, "", b) || kernel.NamedExists(paths.RunNetns, ns1) {
		t.Errorf("the teardown left %s or %s", b, ns1)
	}
}

// A torn last line (nsplay killed while writing it) is skipped, and what
// the lab writes afterwards still counts.
func TestJournalTornLine(t *testing.T) {
	l, name, b := newLab(t)
	ns1 := uniq("tl")
	do(t, l, model.NetnsAdd{Name: ns1})
	l.Close()

	appendJournal(t, name, `{"rec":"do","id":9,"op":{"op":"netns.add","args":{"na`)

	l = openLab(t, name, b)
	if got := objects(t, name); !slices.Equal(got, []string{"netns " + ns1}) {
		t.Errorf("objects after a torn line: %v", got)
	}
	if !l.OwnsNS(model.Named(ns1)) || !slices.Equal(l.Namespaces(), []string{ns1}) {
		t.Errorf("after a torn line the lab owns %v", l.Namespaces())
	}
	ns2 := uniq("tl")
	do(t, l, model.NetnsAdd{Name: ns2})
	l.Close()

	l = openLab(t, name, b)
	if got := objects(t, name); !slices.Equal(got, []string{"netns " + ns1, "netns " + ns2}) {
		t.Errorf("objects written after a torn line are lost: %v", got)
	}
	if got := l.Namespaces(); !slices.Equal(got, []string{ns1, ns2}) {
		t.Errorf("the reopened lab owns %v, want %s and %s", got, ns1, ns2)
	}
	must(t, l.Teardown(func(string) {}))
	for _, n := range []string{ns1, ns2} {
		if kernel.NamedExists(paths.RunNetns, n) {
			t.Errorf("namespace %s survived the teardown", n)
		}
	}
}

func TestNetnsCreateAndAdopt(t *testing.T) {
	l, name, b := newLab(t)
	nsName := uniq("na")
	ref := model.Named(nsName)

	res, err := l.Do(model.NetnsAdd{Name: nsName})
	if err != nil || res.Adopted {
		t.Fatalf("NetnsAdd(%s) = %+v, %v; want created", nsName, res, err)
	}
	if !slices.Contains(testenv.Netns(t), nsName) {
		t.Errorf("ip netns list does not show %s", nsName)
	}
	if !l.OwnsNS(ref) || ref.Key() != "netns:"+nsName {
		t.Errorf("OwnsNS %v, Key %q", l.OwnsNS(ref), ref.Key())
	}
	ino, err := b.Identity(ref)
	must(t, err)
	if !l.MadeNS(ref, ino) || l.MadeNS(ref, ino+1) || l.MadeNS(model.Named(nsName+"x"), ino) {
		t.Errorf("MadeNS(%s, its identity) %v, (another identity) %v, (another name) %v; want true, false, false",
			nsName, l.MadeNS(ref, ino), l.MadeNS(ref, ino+1), l.MadeNS(model.Named(nsName+"x"), ino))
	}
	res, err = l.Do(model.NetnsAdd{Name: nsName})
	if again, _ := b.Identity(ref); err != nil || !res.Adopted || again != ino {
		t.Errorf("NetnsAdd(%s) twice = %+v, %v, identity %d then %d; want the same namespace, adopted", nsName, res, err, ino, again)
	}
	if got := countKind(t, name, "netns"); got != 1 {
		t.Errorf("%d netns objects, want 1", got)
	}
	l.Close()

	// A re-run adopts the namespace the lab owns.
	l = openLab(t, name, b)
	res, err = l.Do(model.NetnsAdd{Name: nsName})
	if err != nil || !res.Adopted || !l.OwnsNS(ref) {
		t.Errorf("NetnsAdd(%s) after reopening = %+v, owned %v, %v", nsName, res, l.OwnsNS(ref), err)
	}
	if got := countKind(t, name, "netns"); got != 1 {
		t.Errorf("%d netns objects after adoption, want 1", got)
	}
	if nss := l.Namespaces(); !slices.Equal(nss, []string{nsName}) {
		t.Errorf("Namespaces() = %v, want %s", nss, nsName)
	}

	// Deleted behind the lab's back: the next run creates it anew.
	l.Close()
	testenv.IP(t, "netns", "del", nsName)
	l = openLab(t, name, b)
	if l.OwnsNS(ref) {
		t.Errorf("the lab owns %s, deleted outside", nsName)
	}
	res, err = l.Do(model.NetnsAdd{Name: nsName})
	if err != nil || res.Adopted {
		t.Errorf("NetnsAdd(%s) after it was deleted outside = %+v, %v; want created", nsName, res, err)
	}
	if got := countKind(t, name, "netns"); got != 1 {
		t.Errorf("%d netns objects, want 1", got)
	}

	if _, err := l.Do(model.NetnsAdd{Name: "a/b"}); err == nil {
		t.Errorf("NetnsAdd(a/b) succeeded")
	}
	must(t, l.Teardown(func(string) {}))
	if kernel.NamedExists(paths.RunNetns, nsName) {
		t.Errorf("%s survived the teardown", nsName)
	}
}

func TestNetnsClash(t *testing.T) {
	l, name, _ := newLab(t)
	out := outsideNS(t)

	_, err := l.Do(model.NetnsAdd{Name: out})
	if !errors.Is(err, lab.ErrNotOwned) {
		t.Fatalf("NetnsAdd of a namespace made outside the lab: %v, want ErrNotOwned", err)
	}
	for _, part := range []string{out, "ip netns del " + out} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("clash error %q does not contain %q", err, part)
		}
	}
	if got := objects(t, name); len(got) != 0 {
		t.Errorf("the clash left objects: %v", got)
	}
	if l.OwnsNS(model.Named(out)) {
		t.Errorf("the lab treats %s as its own", out)
	}
	if _, err := l.Do(model.NetnsDel{Name: out}); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("NetnsDel of a namespace made outside the lab: %v, want ErrNotOwned", err)
	}
	must(t, l.Teardown(func(string) {}))
	if !kernel.NamedExists(paths.RunNetns, out) {
		t.Errorf("the lab deleted %s, which it did not create", out)
	}
}

// A namespace attached by path belongs to someone else: the lab uses it
// and never deletes it.
func TestAttach(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	l := openLab(t, newLabName(t, b), b)
	out := outsideNS(t)
	byPath := model.AtPath(filepath.Join(paths.RunNetns, out))

	ino, err := b.Identity(byPath)
	must(t, err)
	if named, err := b.Identity(model.Named(out)); err != nil || named != ino || l.OwnsNS(byPath) || l.OwnsNS(model.Named(out)) {
		t.Errorf("attached %s: identity %d, by name %d (%v); owned %v, by name %v", byPath, ino, named, err, l.OwnsNS(byPath), l.OwnsNS(model.Named(out)))
	}
	self, err := b.Identity(model.AtPath("/proc/self/ns/net"))
	if host, _ := b.Identity(model.Host); err != nil || self != host {
		t.Errorf("the host's own namespace by path has identity %d, %v; the host %d", self, err, host)
	}
	for _, ns := range []model.NSRef{byPath, model.Named(out)} {
		if _, err := l.Do(up(ns, "lo")); !errors.Is(err, lab.ErrNotOwned) {
			t.Errorf("set lo up in an attached namespace (%s): %v, want ErrNotOwned", ns.Key(), err)
		}
	}
	if _, err := b.Identity(model.AtPath("/nonexistent")); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("the identity of a missing path: %v, want ErrNotFound", err)
	}
	must(t, l.Teardown(func(string) {}))
	if !kernel.NamedExists(paths.RunNetns, out) {
		t.Errorf("the teardown deleted the attached namespace")
	}
}

// A torn last line (nsplay killed mid-write) is ended before the next
// record, so the next run's start record is not lost.
func TestJournalRecordAfterTornLine(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	name := newLabName(t, b)
	l, err := lab.Open(name, b, paths, "first.star")
	must(t, err)
	do(t, l, model.NetnsAdd{Name: uniq("tr")})
	l.Close()
	appendJournal(t, name, `{"rec":"gone","i`)

	l = openLabPlaybook(t, name, b, "second.star")
	l.Close()
	if info, _ := labInfo(t, name); info.Playbook != "second.star" || info.Objects != 1 {
		t.Errorf("after a torn line, List shows %+v, want playbook second.star and 1 object: the start record was lost", info)
	}
	// The same for a line torn in the format of nsplay 0.1.
	appendJournal(t, name, `{"op":"gone","obj":{"i`)
	l = openLabPlaybook(t, name, b, "third.star")
	l.Close()
	if info, _ := labInfo(t, name); info.Playbook != "third.star" || info.Objects != 1 {
		t.Errorf("after a torn line of nsplay 0.1, List shows %+v, want playbook third.star and 1 object", info)
	}
}

// With HostEnds (a sandbox's run), teardown takes the journal's word that
// the veth ends in the host go with the lab's namespaces: it deletes the
// namespaces and the bridge, deletes no veth one by one, leaves an empty
// journal behind, and the kernel removes the ends in the background.
func TestTeardownWhenTheHostEnds(t *testing.T) {
	l, name, _ := newLab(t)
	l.HostEnds = true
	br, ns1, ns2 := uniq("hebr"), uniq("he"), uniq("he")
	do(t, l, model.LinkAdd{Link: model.Link(model.Host, br), Spec: model.Bridge{}})
	var ends []string
	for _, ns := range []string{ns1, ns2} {
		do(t, l, model.NetnsAdd{Name: ns})
		do(t, l, veth(model.Named(ns), "eth0", model.Host, ns))
		do(t, l, model.LinkSetMaster{Link: model.Link(model.Host, ns), Master: br})
		ends = append(ends, ns)
	}
	var reports []string
	must(t, l.Teardown(func(s string) { reports = append(reports, s) }))
	if want := []string{"ip netns del " + ns2, "ip netns del " + ns1, "ip link del " + br}; !slices.Equal(reports, want) {
		t.Errorf("the teardown:\n  %s\nwant:\n  %s", strings.Join(reports, "\n  "), strings.Join(want, "\n  "))
	}
	if _, err := os.Stat(filepath.Join(paths.Labs, name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lab's folder after teardown: %v", err)
	}
	for _, end := range ends {
		for start := time.Now(); hasLink(t, "", end); time.Sleep(10 * time.Millisecond) {
			if time.Since(start) > 30*time.Second {
				t.Fatalf("%s is still in the host 30 s after its namespace was deleted", end)
			}
		}
	}
}

// The tutorial's path: a veth made in the host, one end moved into a lab
// namespace and renamed, the other a port of a bridge. Teardown deletes the
// namespace, which takes the pair along, and then the bridge: it does not
// delete the host's end first, one link at a time (each costs the kernel a
// grace period).
func TestTeardownTakesAMovedVethAlong(t *testing.T) {
	l, _, _ := newLab(t)
	ns1, br, a, p := uniq("mv"), uniq("mvbr"), uniq("mva"), uniq("mvp")
	do(t, l, model.LinkAdd{Link: model.Link(model.Host, br), Spec: model.Bridge{}})
	do(t, l, model.NetnsAdd{Name: ns1})
	do(t, l, veth(model.Host, a, model.Host, p))
	do(t, l, model.LinkMove{Link: model.Link(model.Host, a), To: model.Named(ns1)})
	do(t, l, model.LinkRename{Link: model.Link(model.Named(ns1), a), To: "eth0"})
	do(t, l, model.LinkSetMaster{Link: model.Link(model.Host, p), Master: br})
	var reports []string
	must(t, l.Teardown(func(s string) { reports = append(reports, s) }))
	if want := []string{"ip netns del " + ns1, "ip link del " + br}; !slices.Equal(reports, want) {
		t.Errorf("the teardown:\n  %s\nwant:\n  %s", strings.Join(reports, "\n  "), strings.Join(want, "\n  "))
	}
	if hasLink(t, "", p) || hasLink(t, "", br) {
		t.Errorf("the teardown left %s or %s", p, br)
	}
}
