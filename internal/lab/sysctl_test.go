package lab_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// A sysctl in a namespace the lab created goes with the namespace: it is
// listed while the lab is up, and teardown writes nothing back.
func TestSysctlInLabNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	before := take(t)
	name := newLabName(t, b)
	l := openLab(t, name, b)
	ns := uniq("sy")
	do(t, l, model.NetnsAdd{Name: ns})
	do(t, l, model.SysctlSet{NS: model.Named(ns), Key: "net.ipv4.ip_forward", Value: "1"})
	do(t, l, model.SysctlSet{NS: model.Named(ns), Key: "net.ipv6.conf.all.forwarding", Value: "1"})
	if got := testenv.ProcSys(t, ns, "net/ipv4/ip_forward"); got != "1" {
		t.Errorf("ip_forward in %s = %s", ns, got)
	}
	snap, err := l.Snapshot(nil)
	must(t, err)
	want := map[string]string{"net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1"}
	if i := slices.IndexFunc(snap.Namespaces, func(s model.NSState) bool { return s.Name == ns }); i < 0 || !equalMaps(snap.Namespaces[i].Sysctls, want) {
		t.Errorf("snapshot %+v, want %s with sysctls %v", snap.Namespaces, ns, want)
	}
	var reports []string
	must(t, l.Teardown(func(s string) { reports = append(reports, s) }))
	if slices.ContainsFunc(reports, func(s string) bool { return strings.Contains(s, "sysctl") }) {
		t.Errorf("teardown wrote a sysctl of a namespace it deleted: %q", reports)
	}
	before.machine.AssertUnchanged(t)
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Outside the lab's namespaces a sysctl needs --allow-host; then the old
// value is journalled once and written back at teardown.
func TestHostSysctl(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	attached := outsideNS(t)
	before := take(t)
	name := newLabName(t, b)
	l := openLab(t, name, b)
	old := testenv.ProcSys(t, "", "net/ipv4/ip_forward")
	for _, ns := range []model.NSRef{model.Host, model.Named(attached)} {
		_, err := l.Do(model.SysctlSet{NS: ns, Key: "net.ipv4.ip_forward", Value: "1"})
		if !errors.Is(err, lab.ErrNotOwned) || !strings.Contains(err.Error(), "--allow-host") {
			t.Errorf("a sysctl in %s without --allow-host: %v", ns, err)
		}
	}
	if got := testenv.ProcSys(t, "", "net/ipv4/ip_forward"); got != old {
		t.Fatalf("the refused sysctl changed ip_forward from %s to %s", old, got)
	}
	l.AllowHost = true
	flip := map[string]string{"0": "1", "1": "0"}[old]
	for _, v := range []string{flip, old, flip} {
		do(t, l, model.SysctlSet{NS: model.Host, Key: "net.ipv4.ip_forward", Value: v})
	}
	if got := testenv.ProcSys(t, "", "net/ipv4/ip_forward"); got != flip {
		t.Fatalf("ip_forward = %s, want %s", got, flip)
	}
	var reports []string
	must(t, l.Teardown(func(s string) { reports = append(reports, s) }))
	if want := []string{"sysctl -w net.ipv4.ip_forward=" + old}; !slices.Equal(reports, want) {
		t.Errorf("teardown reported %q, want %q", reports, want)
	}
	if got := testenv.ProcSys(t, "", "net/ipv4/ip_forward"); got != old {
		t.Errorf("ip_forward after teardown = %s, want the old %s", got, old)
	}
	before.machine.AssertUnchanged(t)
}

// After a crash, down writes the old value back from the journal.
func TestHostSysctlRestoredByDown(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	before := take(t)
	name := newLabName(t, b)
	old := testenv.ProcSys(t, "", "net/ipv4/conf/all/accept_redirects")
	l := openLab(t, name, b)
	l.AllowHost = true
	flip := map[string]string{"0": "1", "1": "0"}[old]
	do(t, l, model.SysctlSet{NS: model.Host, Key: "net.ipv4.conf.all.accept_redirects", Value: flip})
	l.Close() // killed
	if got := testenv.ProcSys(t, "", "net/ipv4/conf/all/accept_redirects"); got != flip {
		t.Fatalf("accept_redirects = %s after the crash, want %s", got, flip)
	}
	must(t, lab.Down(name, b, paths, func(string) {}))
	if got := testenv.ProcSys(t, "", "net/ipv4/conf/all/accept_redirects"); got != old {
		t.Errorf("accept_redirects after down = %s, want the old %s", got, old)
	}
	before.machine.AssertUnchanged(t)
}

// A sysctl that another program changed after the lab did is left as it
// is at teardown, and teardown says so: the old value would undo that
// change. The lab's own changes, any number, are written back to the value
// before the first, also one the kernel shows otherwise than it was written.
func TestHostSysctlChangedByAnotherProgram(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	before := take(t)
	key, file := "net.ipv4.conf.all.arp_ignore", "net/ipv4/conf/all/arp_ignore"
	old := testenv.ProcSys(t, "", file)
	t.Cleanup(func() { writeProcSys(t, file, old) })
	for _, other := range []bool{false, true} {
		name := newLabName(t, b)
		l := openLab(t, name, b)
		l.AllowHost = true
		do(t, l, model.SysctlSet{NS: model.Host, Key: key, Value: "1"})
		do(t, l, model.SysctlSet{NS: model.Host, Key: key, Value: "02"}) // the kernel reads it as 2
		l.Close()                                                        // killed
		if other {
			writeProcSys(t, file, "3") // another program
		}
		var reports []string
		must(t, lab.Down(name, b, paths, func(s string) { reports = append(reports, s) }))
		want, wantReport := old, "sysctl -w "+key+"="+old
		if other {
			want, wantReport = "3", "leave sysctl "+key+` in host alone: it is "3" now, not the "02" the lab set, so another program changed it since`
		}
		if got := testenv.ProcSys(t, "", file); got != want || !slices.Equal(reports, []string{wantReport}) {
			t.Errorf("another program changed it: %v; %s after down = %s, reported %q; want %s, %q", other, key, got, reports, want, wantReport)
		}
		writeProcSys(t, file, old)
	}
	before.machine.AssertUnchanged(t)
}

// A key the namespace does not have, or one outside net.*, is refused and
// leaves nothing in the journal.
func TestSysctlErrors(t *testing.T) {
	l, name, _ := newLab(t)
	ns := uniq("sy")
	do(t, l, model.NetnsAdd{Name: ns})
	n := len(objects(t, name))
	for key, want := range map[string]error{"net.ipv4.no_such_key": model.ErrNotFound, "kernel.hostname": model.ErrGlobal} {
		if _, err := l.Do(model.SysctlSet{NS: model.Named(ns), Key: key, Value: "1"}); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", key, err, want)
		}
	}
	if got := len(objects(t, name)); got != n {
		t.Errorf("the journal holds %d objects after refused sysctls, want %d", got, n)
	}
}

// writeProcSys writes a file under /proc/sys of the test's namespace, as
// another program would.
func writeProcSys(t *testing.T, path, value string) {
	t.Helper()
	if err := os.WriteFile("/proc/sys/"+path, []byte(value), 0o644); err != nil {
		t.Fatal(err)
	}
}
