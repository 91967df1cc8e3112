package lab_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// v1Lab is a lab as nsplay 0.1 kept it: its objects made with ip, its
// journal written by hand in the format of 0.1, where records name objects
// ({"op":"add","obj":{...}}) rather than operations.
type v1Lab struct {
	name, ns1, v1, v2, br, xa, resolv string
	dirs                              []string // the folders it made, outermost first
	proc                              model.Proc
}

// keepV1Lab builds, the way nsplay 0.1 did and left it with --keep: a
// namespace; a veth whose one end went into it and was renamed eth0; a
// bridge, with a route through it in the host; an address on a host link
// the lab did not make (--allow-host); resolv.conf of the namespace, with
// the folders it needed; a spawned process; and a link the lab deleted.
func keepV1Lab(t *testing.T, b model.Backend, xa string) v1Lab {
	t.Helper()
	v := v1Lab{name: newLabName(t, b), ns1: uniq("o1n"), v1: uniq("o1v"), v2: uniq("o1p"), br: uniq("o1br"), xa: xa}
	v.resolv = filepath.Join(paths.EtcNetns, v.ns1, "resolv.conf")
	// Should Down fail, what the lab is made of goes all the same, so that
	// a failing test leaves nothing behind.
	t.Cleanup(func() {
		dir := filepath.Join(paths.Labs, v.name)
		if _, err := os.Stat(dir); err != nil {
			return
		}
		exec.Command("ip", "netns", "del", v.ns1).Run()
		exec.Command("ip", "link", "del", v.v2).Run()
		exec.Command("ip", "link", "del", v.br).Run()
		exec.Command("ip", "addr", "del", "192.168.81.1/24", "dev", xa).Run()
		os.Remove(v.resolv)
		for i := len(v.dirs) - 1; i >= 0; i-- {
			os.Remove(v.dirs[i])
		}
		os.RemoveAll(dir)
	})
	testenv.IP(t, "netns", "add", v.ns1)
	testenv.IP(t, "link", "add", v.v1, "type", "veth", "peer", "name", v.v2)
	testenv.IP(t, "link", "set", v.v1, "netns", v.ns1)
	testenv.IP(t, "-n", v.ns1, "link", "set", v.v1, "name", "eth0")
	testenv.IP(t, "link", "add", v.br, "type", "bridge")
	testenv.IP(t, "link", "set", v.br, "up")
	testenv.IP(t, "route", "add", "10.97.0.0/16", "dev", v.br)
	testenv.IP(t, "addr", "add", "192.168.81.1/24", "dev", xa)
	for _, dir := range []string{paths.EtcNetns, filepath.Dir(v.resolv)} {
		if err := os.Mkdir(dir, 0o755); err == nil {
			v.dirs = append(v.dirs, dir)
		} else if !errors.Is(err, os.ErrExist) {
			t.Fatal(err)
		}
	}
	must(t, os.WriteFile(v.resolv, []byte("nameserver 192.0.2.81\n"), 0o644))
	v.proc = startProc(t, b, model.Host, "sleep", "30")
	start, err := kernel.StartTime(v.proc.PID())
	must(t, err)

	hostIno, nsIno := inode(t, "/proc/self/ns/net"), inode(t, filepath.Join(paths.RunNetns, v.ns1))
	link := func(id int, ns, name, born string, ino uint64) map[string]any {
		return map[string]any{"id": id, "kind": "link", "ns": ns, "name": name, "born": born, "nsino": ino}
	}
	netns := map[string]any{"id": 0, "kind": "netns", "name": v.ns1}
	lines := []string{
		`{"op":"start","playbook":"old.star","pid":1}`,
		v1Line(t, "add", netns),
		v1Line(t, "set", with(netns, "nsino", nsIno)),
		v1Line(t, "add", link(1, "host", v.v1, "host/"+v.v1, hostIno)),
		v1Line(t, "add", link(2, "host", v.v2, "host/"+v.v2, hostIno)),
		v1Line(t, "set", link(1, "netns:"+v.ns1, v.v1, "host/"+v.v1, nsIno)),
		v1Line(t, "set", link(1, "netns:"+v.ns1, "eth0", "host/"+v.v1, nsIno)),
		v1Line(t, "add", link(3, "host", v.br, "host/"+v.br, hostIno)),
		v1Line(t, "add", map[string]any{"id": 4, "kind": "route", "ns": "host", "nsino": hostIno,
			"route": map[string]any{"dst": "10.97.0.0/16", "dev": v.br, "metric": 0, "table": "main"}}),
		v1Line(t, "add", map[string]any{"id": 5, "kind": "addr", "ns": "host", "link": xa, "cidr": "192.168.81.1/24", "nsino": hostIno}),
	}
	id := 6
	for _, dir := range v.dirs {
		lines = append(lines, v1Line(t, "add", map[string]any{"id": id, "kind": "dir", "name": dir}))
		id++
	}
	gone := link(id+3, "host", "o1gone", "host/o1gone", hostIno)
	lines = append(lines,
		v1Line(t, "add", map[string]any{"id": id, "kind": "file", "name": v.resolv}),
		v1Line(t, "add", map[string]any{"id": id + 1, "kind": "proc", "name": "sleep", "pid": v.proc.PID(), "start": start}),
		v1Line(t, "add", gone),
		v1Line(t, "gone", gone),
		`{"op":"keep"}`,
	)
	dir := filepath.Join(paths.Labs, v.name)
	must(t, os.MkdirAll(dir, 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "lock"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "journal"), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	return v
}

// v1Line is a journal record of nsplay 0.1.
func v1Line(t *testing.T, op string, obj map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"op": op, "obj": obj})
	must(t, err)
	return string(b)
}

func with(m map[string]any, key string, value any) map[string]any {
	c := map[string]any{key: value}
	for k, v := range m {
		if k != key {
			c[k] = v
		}
	}
	return c
}

// inode is the inode of what path names (a namespace's identity).
func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	must(t, syscall.Stat(path, &st))
	return st.Ino
}

// A lab kept by nsplay 0.1 is taken down by this version: everything its
// journal lists goes, what it did not make stays, and the machine is as
// it was before.
func TestDownOfALabKeptByNsplay01(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	xa, _ := outsideVeth(t, "")
	before := take(t)
	v := keepV1Lab(t, b, xa)

	// The namespace, both veth ends, the bridge, the route, the address,
	// the folders, the file and the process.
	want := lab.Info{Name: v.name, Playbook: "old.star", Objects: 8 + len(v.dirs), PID: 1, State: "kept"}
	if info, ok := labInfo(t, v.name); !ok || info != want {
		t.Errorf("List of a lab kept by nsplay 0.1: %+v (listed %v), want %+v", info, ok, want)
	}

	var reports []string
	if err := lab.Down(v.name, b, paths, func(s string) { reports = append(reports, s) }); err != nil {
		t.Fatalf("Down of a lab kept by nsplay 0.1: %v", err)
	}
	wantReports := []string{
		fmt.Sprintf("kill %d (sleep)", v.proc.PID()),
		"rm " + v.resolv,
		"ip addr del 192.168.81.1/24 dev " + xa,
		"ip route del 10.97.0.0/16 dev " + v.br,
		"ip link del " + v.br,
		"ip netns del " + v.ns1,
	}
	for i := len(v.dirs) - 1; i >= 0; i-- {
		wantReports = append(wantReports, "rmdir "+v.dirs[i])
	}
	for _, line := range wantReports {
		if !slices.Contains(reports, line) {
			t.Errorf("Down did not report %q:\n  %s", line, strings.Join(reports, "\n  "))
		}
	}
	if contains(reports, "ip link del "+v.v2) || contains(reports, "ip link del o1gone") {
		t.Errorf("Down deleted %s one by one, or a link the lab had deleted:\n  %s", v.v2, strings.Join(reports, "\n  "))
	}
	if res, err := v.proc.Wait(context.Background(), time.Second); err != nil || res.RC != 143 {
		t.Errorf("the lab's process ended with %+v, %v; want SIGTERM (rc 143)", res, err)
	}
	before.machine.AssertUnchanged(t)
	if !hasLink(t, "", xa) {
		t.Errorf("Down deleted %s, which the lab did not create", xa)
	}
	if _, ok := labInfo(t, v.name); ok {
		t.Errorf("List still shows %s after Down", v.name)
	}
}

// A re-run of this version adopts what a lab kept by nsplay 0.1 owns,
// wherever it went, builds nothing twice, and its teardown removes it.
func TestRerunAdoptsALabKeptByNsplay01(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBackend(t)
	xa, _ := outsideVeth(t, "")
	before := take(t)
	v := keepV1Lab(t, b, xa)
	built := take(t)

	l := openLabPlaybook(t, v.name, b, "new.star")
	l.AllowHost = true
	host, ns1 := model.Host, model.Named(v.ns1)
	for _, c := range []struct {
		op model.Op
		at model.LinkRef
	}{
		{model.NetnsAdd{Name: v.ns1}, model.LinkRef{}},
		{veth(host, v.v1, host, v.v2), model.Link(ns1, "eth0")},
		{veth(host, v.v2, host, v.v1), model.Link(host, v.v2)},
		{bridge(v.br), model.Link(host, v.br)},
		{model.RouteAdd{NS: host, Route: model.Route{Dst: "10.97.0.0/16", Dev: v.br, Table: "main"}}, model.LinkRef{}},
		{model.AddrAdd{Link: model.Link(host, xa), CIDR: "192.168.81.1/24"}, model.LinkRef{}},
	} {
		if res, err := l.Do(c.op); err != nil || !res.Adopted || res.At != c.at {
			t.Errorf("%s on a lab of nsplay 0.1 = %+v, %v; want adopted at %+v", c.op.Text(), res, err, c.at)
		}
	}
	do(t, l, model.FileWrite{Path: v.resolv, Data: "nameserver 192.0.2.81\n"})
	now, journal := take(t), "file "+filepath.Join(paths.Labs, v.name, "journal")
	for what := range joinKeys(built.machine, now.machine) {
		was, wasThere := built.machine[what]
		is, isThere := now.machine[what]
		if what != journal && (wasThere != isThere || was != is) {
			t.Errorf("the re-run changed %s: %q (there: %v), as nsplay 0.1 left it %q (there: %v)", what, is, isThere, was, wasThere)
		}
	}
	must(t, l.Teardown(func(string) {}))
	if res, err := v.proc.Wait(context.Background(), time.Second); err != nil || res.RC != 143 {
		t.Errorf("the lab's process ended with %+v, %v; want SIGTERM (rc 143)", res, err)
	}
	before.machine.AssertUnchanged(t)
}
