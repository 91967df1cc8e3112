package lab_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/testenv"
)

func TestOpenTakesTheLock(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	name := newLabName(t, host)
	l := openLab(t, name, host)
	if l.Name != name || l.Host != host {
		t.Errorf("Open: Name %q Host %v", l.Name, l.Host)
	}
	if _, err := os.Stat(filepath.Join(lab.Dir, name, "lock")); err != nil {
		t.Errorf("no lock file: %v", err)
	}

	_, err := lab.Open(name, host, "other.star")
	if !errors.Is(err, lab.ErrBusy) {
		t.Fatalf("a second Open of a held lab: %v, want ErrBusy", err)
	}
	if !strings.Contains(err.Error(), name) {
		t.Errorf("ErrBusy %q does not name the lab", err)
	}
	// Down of a lab another nsplay runs is refused too.
	if err := lab.Down(name, host, func(string) {}); !errors.Is(err, lab.ErrBusy) {
		t.Errorf("Down of a held lab: %v, want ErrBusy", err)
	}

	l.Close()
	again, err := lab.Open(name, host, "test.star")
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	again.Close()
}

func TestOpenRejectsBadNames(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	for _, name := range []string{"", ".hidden", "-flag", "a/b", "..", "a b", strings.Repeat("x", 65), "ä"} {
		if l, err := lab.Open(name, host, ""); err == nil {
			l.Close()
			t.Errorf("Open(%q) succeeded", name)
			os.RemoveAll(filepath.Join(lab.Dir, name))
		}
	}
	for _, name := range []string{"lxcbr0", "star_10.v2-x", strings.Repeat("x", 64)} {
		l, err := lab.Open(name, host, "")
		if err != nil {
			t.Errorf("Open(%q): %v", name, err)
			continue
		}
		must(t, l.Teardown(func(string) {}))
	}
}

func TestList(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	running, kept, orphaned := newLabName(t, host), newLabName(t, host), newLabName(t, host)

	r := openLab(t, running, host)
	_, _, err := r.Netns(uniq("ls"))
	must(t, err)

	k, err := lab.Open(kept, host, "kept.star")
	must(t, err)
	_, _, err = k.Netns(uniq("ls"))
	must(t, err)
	must(t, k.Keep())

	o, err := lab.Open(orphaned, host, "orphan.star")
	must(t, err)
	_, _, err = o.Netns(uniq("ls"))
	must(t, err)
	o.Close() // given up on: neither torn down nor kept

	for _, want := range []lab.Info{
		{Name: running, Playbook: "test.star", Objects: 1, State: "running"},
		{Name: kept, Playbook: "kept.star", Objects: 1, State: "kept"},
		{Name: orphaned, Playbook: "orphan.star", Objects: 1, State: "orphaned"},
	} {
		got, ok := labInfo(t, want.Name)
		if !ok || got != want {
			t.Errorf("List: %+v (listed: %v), want %+v", got, ok, want)
		}
	}

	// Re-opening a kept lab without a playbook keeps the playbook's name;
	// while it is open it runs.
	k2 := openLabPlaybook(t, kept, host, "")
	if got, _ := labInfo(t, kept); got.State != "running" || got.Playbook != "kept.star" {
		t.Errorf("List of a reopened kept lab: %+v", got)
	}
	k2.Close()

	r.Close()
	if got, _ := labInfo(t, running); got.State != "orphaned" {
		t.Errorf("List after Close: %+v, want orphaned", got)
	}
	must(t, lab.Down(running, host, func(string) {}))
	if _, ok := labInfo(t, running); ok {
		t.Errorf("List still shows %s after Down", running)
	}
}

func openLabPlaybook(t *testing.T, name string, host *kernel.NS, playbook string) *lab.Lab {
	t.Helper()
	l, err := lab.Open(name, host, playbook)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// The journal gives a reopened lab exactly the objects it had, including
// moves, renames and deletions, so a re-run adopts them.
func TestJournalReplay(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	name := newLabName(t, host)
	l := openLab(t, name, host)

	ns1, _, err := l.Netns(uniq("jr"))
	must(t, err)
	ns2, _, err := l.Netns(uniq("jr"))
	must(t, err)
	a, b := uniq("ja"), uniq("jb")
	spec, mk := veth(host, a, host, b)
	_, _, _, err = l.CreateLink(spec, mk)
	must(t, err)
	must(t, host.MoveTo(a, ns1))
	must(t, l.LinkMoved(host, a, ns1, a))
	must(t, ns1.Rename(a, "eth0"))
	must(t, l.LinkMoved(ns1, a, ns1, "eth0"))
	c, d := uniq("jc"), uniq("jd")
	spec, mk = veth(host, c, host, d)
	_, _, _, err = l.CreateLink(spec, mk)
	must(t, err)
	must(t, host.DeleteLink(c))
	must(t, l.LinkDeleted(host, c, host, d, "test.star:1"))
	must(t, ns2.Delete(nil))
	must(t, l.NetnsDeleted(ns2, "test.star:2"))
	dir := filepath.Join("/run", uniq("jdir"))
	must(t, l.WriteFile(filepath.Join(dir, "f"), []byte("x")))

	before := l.Objects()
	want := []string{
		"netns  " + ns1.Name,
		"link netns:" + ns1.Name + " eth0",
		"link host " + b,
		"dir  " + dir,
		"file  " + filepath.Join(dir, "f"),
	}
	if got := objects(l); !slices.Equal(got, want) {
		t.Errorf("objects before Close:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	l.Close()

	l = openLab(t, name, host)
	if after := l.Objects(); !reflect.DeepEqual(after, before) {
		t.Errorf("objects after reopening:\n  %+v\nbefore Close:\n  %+v", after, before)
	}
	// New objects get new IDs.
	maxID := 0
	for _, o := range before {
		maxID = max(maxID, o.ID)
	}
	_, _, err = l.Netns(uniq("jr"))
	must(t, err)
	objs := l.Objects()
	if last := objs[len(objs)-1]; last.ID <= maxID {
		t.Errorf("a new object got ID %d, not above the journal's %d", last.ID, maxID)
	}
	must(t, l.Teardown(func(string) {}))
}

// A torn last line (nsplay killed while writing it) is skipped, and what
// the lab writes afterwards still counts.
func TestJournalTornLine(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	name := newLabName(t, host)
	l := openLab(t, name, host)
	ns1, _, err := l.Netns(uniq("tl"))
	must(t, err)
	l.Close()

	j := filepath.Join(lab.Dir, name, "journal")
	f, err := os.OpenFile(j, os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	_, err = f.WriteString(`{"op":"add","obj":{"id":9,"kind":"netns","na`)
	f.Close()
	must(t, err)

	l = openLab(t, name, host)
	if got := objects(l); !slices.Equal(got, []string{"netns  " + ns1.Name}) {
		t.Errorf("objects after a torn line: %v", got)
	}
	ns2, _, err := l.Netns(uniq("tl"))
	must(t, err)
	l.Close()

	l = openLab(t, name, host)
	if got := objects(l); !slices.Equal(got, []string{"netns  " + ns1.Name, "netns  " + ns2.Name}) {
		t.Errorf("objects written after a torn line are lost: %v", got)
	}
	must(t, l.Teardown(func(string) {}))
	for _, n := range []string{ns1.Name, ns2.Name} {
		if kernel.NamedExists(n) {
			t.Errorf("namespace %s survived the teardown", n)
		}
	}
}

func TestNetnsCreateAndAdopt(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	name := newLabName(t, host)
	l := openLab(t, name, host)
	nsName := uniq("na")

	ns, adopted, err := l.Netns(nsName)
	if err != nil || adopted {
		t.Fatalf("Netns(%s) = adopted %v, %v; want created", nsName, adopted, err)
	}
	if !slices.Contains(testenv.Netns(t), nsName) {
		t.Errorf("ip netns list does not show %s", nsName)
	}
	if !l.OwnsNS(ns) || l.Key(ns) != "netns:"+nsName {
		t.Errorf("OwnsNS %v, Key %q", l.OwnsNS(ns), l.Key(ns))
	}
	again, adopted, err := l.Netns(nsName)
	if err != nil || !adopted || again != ns {
		t.Errorf("Netns(%s) twice = %p adopted %v, %v; want the same handle, adopted", nsName, again, adopted, err)
	}
	if got := countKind(l, "netns"); got != 1 {
		t.Errorf("%d netns objects, want 1", got)
	}
	l.Close()

	// A re-run adopts the namespace the lab owns.
	l = openLab(t, name, host)
	ns, adopted, err = l.Netns(nsName)
	if err != nil || !adopted || !l.OwnsNS(ns) {
		t.Errorf("Netns(%s) after reopening = adopted %v, owned %v, %v", nsName, adopted, l.OwnsNS(ns), err)
	}
	if got := countKind(l, "netns"); got != 1 {
		t.Errorf("%d netns objects after adoption, want 1", got)
	}
	if nss := l.Namespaces(); len(nss) != 2 || nss[0] != host || nss[1] != ns {
		t.Errorf("Namespaces() = %v, want host and %s", nss, nsName)
	}

	// Deleted behind the lab's back: the next run creates it anew.
	l.Close()
	must(t, kernel.DeleteNamed(nsName))
	l = openLab(t, name, host)
	_, adopted, err = l.Netns(nsName)
	if err != nil || adopted {
		t.Errorf("Netns(%s) after it was deleted outside = adopted %v, %v; want created", nsName, adopted, err)
	}
	if got := countKind(l, "netns"); got != 1 {
		t.Errorf("%d netns objects, want 1", got)
	}

	if _, _, err := l.Netns("a/b"); err == nil {
		t.Errorf("Netns(a/b) succeeded")
	}
	must(t, l.Teardown(func(string) {}))
	if kernel.NamedExists(nsName) {
		t.Errorf("%s survived the teardown", nsName)
	}
}

func TestNetnsClash(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	l := openLab(t, newLabName(t, host), host)
	out := outsideNS(t)

	_, _, err := l.Netns(out.Name)
	if !errors.Is(err, lab.ErrNotOwned) {
		t.Fatalf("Netns of a namespace made outside the lab: %v, want ErrNotOwned", err)
	}
	for _, part := range []string{out.Name, "ip netns del " + out.Name} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("clash error %q does not contain %q", err, part)
		}
	}
	if len(l.Objects()) != 0 {
		t.Errorf("the clash left objects: %v", objects(l))
	}
	if l.OwnsNS(out) || l.MayDeleteNS(out) == nil || !errors.Is(l.MayDeleteNS(out), lab.ErrNotOwned) {
		t.Errorf("the lab treats %s as its own", out.Name)
	}
	must(t, l.Teardown(func(string) {}))
	if !kernel.NamedExists(out.Name) {
		t.Errorf("the teardown deleted %s, which the lab did not create", out.Name)
	}
}

// A namespace attached by path belongs to someone else: the lab uses it
// and never deletes it.
func TestAttach(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	l := openLab(t, newLabName(t, host), host)
	out := outsideNS(t)

	ns, err := l.Attach(out.Path)
	must(t, err)
	if !ns.Same(out) || l.OwnsNS(ns) {
		t.Errorf("Attach(%s): same %v, owned %v", out.Path, ns.Same(out), l.OwnsNS(ns))
	}
	if again, err := l.Attach(out.Path); err != nil || again != ns {
		t.Errorf("Attach twice gave another handle: %v", err)
	}
	if self, err := l.Attach("/proc/self/ns/net"); err != nil || self != host {
		t.Errorf("Attach of the host's own namespace = %v, %v; want the host handle", self, err)
	}
	if err := l.MayChange(ns, "lo"); !errors.Is(err, lab.ErrNotOwned) {
		t.Errorf("MayChange(lo) in an attached namespace: %v, want ErrNotOwned", err)
	}
	if _, err := l.Attach("/nonexistent"); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("Attach of a missing path: %v, want ErrNotFound", err)
	}
	must(t, l.Teardown(func(string) {}))
	if !kernel.NamedExists(out.Name) {
		t.Errorf("the teardown deleted the attached namespace")
	}
}

// A torn last line (nsplay killed mid-write) is ended before the next
// record, so the next run's start record is not lost.
func TestJournalRecordAfterTornLine(t *testing.T) {
	testenv.RequireRoot(t)
	host := hostNS(t)
	name := newLabName(t, host)
	l, err := lab.Open(name, host, "first.star")
	must(t, err)
	_, _, err = l.Netns(uniq("tr"))
	must(t, err)
	l.Close()
	f, err := os.OpenFile(filepath.Join(lab.Dir, name, "journal"), os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	_, err = f.WriteString(`{"op":"gone","obj":{"i`)
	f.Close()
	must(t, err)

	l = openLabPlaybook(t, name, host, "second.star")
	l.Close()
	if info, _ := labInfo(t, name); info.Playbook != "second.star" {
		t.Errorf("after a torn line, List shows playbook %q, want second.star: the start record was lost", info.Playbook)
	}
}
