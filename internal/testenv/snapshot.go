package testenv

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/nsplay/nsplay/internal/model"
)

// Snapshot is what a test sees of the machine outside its labs: the named
// namespaces (by name and identity) and the links in each, the links of
// the test's own namespace with their addresses, its IPv4 routes, its
// sysctls a lab may set and its nftables tables (nft.go), every
// file under /etc/netns and /run/nsplay, the live processes, and the
// threads of the test process that are not in its namespaces (ThreadsAway). A test
// takes one before it builds anything and compares after, instead of
// expecting an empty machine: a used machine has an /etc/netns, namespaces
// and links of other tools and kept labs of other runs, and they must be
// left as they were.
//
// Each entry maps what it is ("netns x", "link a", "file /etc/netns/x")
// to its state as text.
type Snapshot map[string]string

// TakeSnapshot reads the machine as the test sees it.
func TakeSnapshot(t testing.TB) Snapshot {
	t.Helper()
	s := Snapshot{}
	s.addLinks(t, "")
	s.addRoutes(t)
	s.addSysctls(t)
	s.addNftTables(t)
	for _, name := range Netns(t) {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(model.DefaultPaths.RunNetns, name), &st); err != nil {
			s["netns "+name] = err.Error()
			continue
		}
		s["netns "+name] = fmt.Sprintf("inode %d", st.Ino)
		s.addLinks(t, name)
	}
	s.addFiles(t, model.DefaultPaths.EtcNetns, true)
	// Like /run/netns, /run/nsplay stays once a first lab has made it.
	s.addFiles(t, model.DefaultPaths.Labs, false)
	for _, p := range Processes(t) {
		s["process "+p] = ""
	}
	for _, away := range ThreadsAway(t) {
		s["thread "+away] = "away from the test process's namespaces"
	}
	return s
}

// addLinks records each link of a namespace ("" for the test's own) with
// what a lab could change: kind, admin state, MTU, MAC, master, root qdisc
// and addresses. Carrier, operational state and IPv6 link-local addresses are
// left out: the kernel changes them on its own, after the fact.
func (s Snapshot) addLinks(t testing.TB, netns string) {
	t.Helper()
	args := []string{"-d", "addr", "show"}
	where := ""
	if netns != "" {
		args = append([]string{"-n", netns}, args...)
		where = " in " + netns
	}
	var links []struct {
		Link
		Qdisc    string `json:"qdisc"`
		AddrInfo []struct {
			Local     string `json:"local"`
			Prefixlen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	IPJSON(t, &links, args...)
	for _, l := range links {
		state := "down"
		if slices.Contains(l.Flags, "UP") {
			state = "up"
		}
		desc := fmt.Sprintf("%s %s mtu %d mac %s master %q qdisc %s", l.LinkInfo.Kind, state, l.MTU, l.Address, l.Master, l.Qdisc)
		for _, a := range l.AddrInfo {
			if !strings.HasPrefix(a.Local, "fe80:") {
				desc += fmt.Sprintf(" %s/%d", a.Local, a.Prefixlen)
			}
		}
		s["link "+l.Name+where] = desc
	}
}

// addRoutes records the IPv4 routes of every table of the test's own
// namespace, a line each. IPv6 routes are left out: the kernel adds
// link-local ones when a link gets its carrier.
func (s Snapshot) addRoutes(t testing.TB) {
	t.Helper()
	for line := range strings.Lines(IP(t, "-4", "route", "show", "table", "all")) {
		s["route "+strings.TrimSpace(line)] = ""
	}
}

// addFiles records every file and folder under root, and root itself if
// asked, with its type, mode, owner and, for a file, a digest of its
// content. A root that is a symbolic link (a sandbox's /etc/netns) is
// followed.
func (s Snapshot) addFiles(t testing.TB, root string, withRoot bool) {
	t.Helper()
	err := filepath.WalkDir(root+"/", func(path string, d fs.DirEntry, err error) error {
		path = filepath.Clean(path)
		if err != nil || (path == root && !withRoot) {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v uid %d", info.Mode(), info.Sys().(*syscall.Stat_t).Uid)
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %d bytes sha256 %x", len(data), sha256.Sum256(data))
		}
		s["file "+path] = desc
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read %s: %v", root, err)
	}
}

// Processes lists the live processes as "PID (comm)". Zombies do not
// count: the test binary is the first process of its sandbox, and orphans
// that die wait there for a reaper that never comes.
func Processes(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var procs []string
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue // it ended
		}
		// stat is "pid (comm) state ...", and comm may hold ") ".
		pid, rest, ok := strings.Cut(string(data), " (")
		end := strings.LastIndex(rest, ") ")
		if ok && end >= 0 && !strings.HasPrefix(rest[end:], ") Z ") {
			procs = append(procs, pid+" ("+rest[:end]+")")
		}
	}
	return procs
}

// AssertUnchanged fails the test for every difference between the machine
// now and the snapshot: what is new was left behind, what is missing or
// changed was touched.
func (s Snapshot) AssertUnchanged(t testing.TB) {
	t.Helper()
	s.compare(t, TakeSnapshot(t), func(string) bool { return true })
}

// AssertObjectsUnchanged is AssertUnchanged without the processes, for a
// check made while a sandboxed run is going on: its processes are seen
// from outside (PID namespaces nest), nothing else of it is.
func (s Snapshot) AssertObjectsUnchanged(t testing.TB) {
	t.Helper()
	s.compare(t, TakeSnapshot(t), func(what string) bool { return !strings.HasPrefix(what, "process ") })
}

func (s Snapshot) compare(t testing.TB, now Snapshot, check func(what string) bool) {
	t.Helper()
	all := maps.Clone(s)
	maps.Copy(all, now)
	for _, what := range slices.Sorted(maps.Keys(all)) {
		if !check(what) {
			continue
		}
		before, was := s[what]
		after, is := now[what]
		switch {
		case !was:
			t.Errorf("left behind: %s %s", what, after)
		case !is:
			t.Errorf("gone: %s (it was %s)", what, before)
		case before != after:
			t.Errorf("changed: %s: %s, before the test %s", what, after, before)
		}
	}
}

// NewNetns lists, sorted, the named namespaces there are now and were not
// when the snapshot was taken.
func (s Snapshot) NewNetns(t testing.TB) []string {
	t.Helper()
	var names []string
	for _, name := range Netns(t) {
		if _, ok := s["netns "+name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}
