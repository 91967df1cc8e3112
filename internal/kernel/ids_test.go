package kernel_test

import (
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/testenv"
)

// NamedList lists what `ip netns list` lists, sorted.
func TestNamedList(t *testing.T) {
	testenv.RequireRoot(t)
	var made []string
	for range 3 {
		made = append(made, newNS(t).Name)
	}
	got, err := kernel.NamedList(paths.RunNetns)
	must(t, err)
	want := testenv.Netns(t)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("NamedList = %v, ip netns list = %v", got, want)
	}
	if !slices.IsSorted(got) {
		t.Errorf("NamedList is not sorted: %v", got)
	}
	for _, name := range made {
		if !slices.Contains(got, name) {
			t.Errorf("NamedList = %v lacks %s", got, name)
		}
	}
	must(t, kernel.DeleteNamed(paths.RunNetns, made[1]))
	got, err = kernel.NamedList(paths.RunNetns)
	if err != nil || slices.Contains(got, made[1]) {
		t.Errorf("NamedList after deleting %s = %v, %v", made[1], got, err)
	}
}

// Identify names the namespace of a process as `ip netns identify` does.
func TestIdentify(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	ns := newNS(t)
	p := startProc(t, kernel.ExecSpec{NS: ns, Argv: []string{"sleep", "30"}})
	for _, tc := range []struct {
		pid  int
		want string
	}{{p.PID(), ns.Name}, {1, ""}} {
		got, err := kernel.Identify(paths.RunNetns, tc.pid)
		ip := strings.TrimSpace(testenv.IP(t, "netns", "identify", strconv.Itoa(tc.pid)))
		if err != nil || got != tc.want || got != ip {
			t.Errorf("Identify(%d) = %q, %v; ip netns identify = %q; want %q", tc.pid, got, err, ip, tc.want)
		}
	}
	// A fresh network namespace has no name.
	fresh := startProc(t, kernel.ExecSpec{NS: ns, New: []string{"net"}, Argv: []string{"sleep", "30"}})
	if got, err := kernel.Identify(paths.RunNetns, fresh.PID()); err != nil || got != "" {
		t.Errorf("Identify of a process in an unnamed namespace = %q, %v; want \"\"", got, err)
	}
	if _, err := kernel.Identify(paths.RunNetns, 1<<30); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("Identify of no process: %v, want ErrNotFound", err)
	}
}

// netnsIDs is `ip netns list-id` of the test's namespace: name by id.
func netnsIDs(t *testing.T) map[int]string {
	t.Helper()
	var list []struct {
		ID   int    `json:"nsid"`
		Name string `json:"name"`
	}
	if out := testenv.IP(t, "-j", "netns", "list-id"); strings.TrimSpace(out) != "" {
		testenv.IPJSON(t, &list, "netns", "list-id")
	}
	ids := map[int]string{}
	for _, e := range list {
		ids[e.ID] = e.Name
	}
	return ids
}

// SetNetnsID gives a namespace an id in another, as `ip netns set` does;
// an id that is taken, or a second id, is ErrExists.
func TestSetNetnsID(t *testing.T) {
	testenv.RequireRoot(t)
	host := current(t)
	a, b := newNS(t), newNS(t)
	if id, err := host.NetnsIDOf(a); err != nil || id != -1 {
		t.Fatalf("a new namespace already has the id %d, %v", id, err)
	}
	must(t, host.SetNetnsID(a, 42))
	if ids := netnsIDs(t); ids[42] != a.Name {
		t.Errorf("ip netns list-id = %v, want 42 for %s", ids, a.Name)
	}
	if id, err := host.NetnsIDOf(a); err != nil || id != 42 {
		t.Errorf("NetnsIDOf(%s) = %d, %v; want 42", a, id, err)
	}
	// Ids are per namespace: a knows b by an id of its own.
	must(t, a.SetNetnsID(b, 42))
	if id, err := a.NetnsIDOf(b); err != nil || id != 42 {
		t.Errorf("in %s, NetnsIDOf(%s) = %d, %v; want 42", a, b, id, err)
	}
	if out := testenv.IP(t, "-n", a.Name, "netns", "list-id"); !strings.Contains(out, "nsid 42 ") {
		t.Errorf("ip -n %s netns list-id = %q, want nsid 42", a.Name, out)
	}

	err := host.SetNetnsID(b, 42)
	if !errors.Is(err, kernel.ErrExists) {
		t.Errorf("SetNetnsID with a taken id: %v, want ErrExists", err)
	}
	wantErrContains(t, err, b.Name, "42")
	err = host.SetNetnsID(a, 43)
	if !errors.Is(err, kernel.ErrExists) {
		t.Errorf("SetNetnsID of a namespace that has an id: %v, want ErrExists", err)
	}
	ids := netnsIDs(t)
	if ids[42] != a.Name || slices.Contains(slices.Collect(maps.Values(ids)), b.Name) {
		t.Errorf("after the refused calls, ip netns list-id = %v; want 42 for %s and none for %s", ids, a.Name, b.Name)
	}
}
