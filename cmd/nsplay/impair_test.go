package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// TestNetemMissing: on this kernel (no sch_netem) a delay is an error
// that names the missing module and kernel option at the position of the
// call, exit status 2, and the lab is torn down.
func TestNetemMissing(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	cleanLabs(t)
	file := filepath.Join(t.TempDir(), "delay.star")
	src := "a = netns(\"nm-a\")\nv = veth(\"eth0\", \"eth1\", ns = a).set_up()\nv.impair(delay = \"100ms\")\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := run(t, "run", file)
	wantExit(t, code, exitError, stdout, stderr)
	want := "nsplay: " + file + ":3:9: impair: tc -n nm-a qdisc replace dev eth0 root netem delay 100ms: eth0 in nm-a: this kernel has no netem qdisc: delay, jitter, loss, duplicate, corrupt, reorder and limit need module sch_netem (kernel option CONFIG_NET_SCH_NETEM); a rate alone uses tbf"
	if !strings.HasPrefix(stderr, want) {
		t.Errorf("stderr = %q, want it to start with %q", stderr, want)
	}
	if !strings.Contains(stdout, "down: ip netns del nm-a\n") {
		t.Errorf("the lab was not torn down:\n%s", stdout)
	}
	before.AssertUnchanged(t)
}

// TestShowImpairments: show lists the links that have impairments in a
// table of their own, and none when no link has any.
func TestShowImpairments(t *testing.T) {
	link := model.LinkState{Name: "eth0", Kind: "veth", Up: true, MTU: 1500, Addrs: []model.AddrInfo{}}
	snap := model.Snapshot{Namespaces: []model.NSState{{Name: "h1", Links: []model.LinkState{link}}}}
	var plain strings.Builder
	if err := showTables(&plain, snap); err != nil || strings.Contains(plain.String(), "IMPAIRMENTS") {
		t.Errorf("show without impairments: %v\n%s", err, plain.String())
	}
	snap.Namespaces[0].Links[0].Impairments = &model.Impairment{Rate: 1_000_000, Delay: 100 * time.Millisecond, Loss: 1.5}
	var out strings.Builder
	if err := showTables(&out, snap); err != nil || !regexpMatch(`\nNETNS\s+LINK\s+IMPAIRMENTS\nh1\s+eth0\s+delay:100ms loss:1.5% rate:8mbit\n$`, out.String()) {
		t.Errorf("show with impairments: %v\n%s", err, out.String())
	}
}
