package model_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/model"
)

func TestParseRate(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64 // bytes per second
		back string // FormatRate of it
	}{
		{"8mbit", 1_000_000, "8mbit"},
		{"8Mbit", 1_000_000, "8mbit"},
		{"1gbit", 125_000_000, "1gbit"},
		{"500kbit", 62_500, "500kbit"},
		{"1.5mbit", 187_500, "1.5mbit"},
		{"10mbps", 10_000_000, "80mbit"}, // tc's bps are bytes per second
		{"1bps", 1, "8bit"},
		{"64bit", 8, "64bit"},
		{"1504bit", 188, "1.504kbit"},
		{"2tbit", 250_000_000_000, "2tbit"},
		{"0.5gbit", 62_500_000, "500mbit"},
	} {
		got, err := model.ParseRate(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", c.in, got, err, c.want)
			continue
		}
		if back := model.FormatRate(got); back != c.back {
			t.Errorf("FormatRate(%d) = %q, want %q", got, back, c.back)
		}
		if again, err := model.ParseRate(model.FormatRate(got)); err != nil || again != got {
			t.Errorf("ParseRate(FormatRate(%d)) = %d, %v", got, again, err)
		}
	}
	for _, c := range []struct{ in, says string }{
		{"8", "bit, kbit, mbit, gbit, tbit"},
		{"8mb", "bps, kbps, mbps"},
		{"8 mbit", "like \"8mbit\""},
		{"mbit", "one of tc's units"},
		{"-8mbit", "one of tc's units"},
		{"1e3mbit", "one of tc's units"},
		{"0x10mbit", "one of tc's units"},
		{"fast", "one of tc's units"},
		{"8kibit", "one of tc's units"},
		{"0mbit", "is zero"},
		{"1bit", "not a whole number of bytes per second"},
		{"99999999999999tbps", "more than the kernel holds"},
	} {
		_, err := model.ParseRate(c.in)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("ParseRate(%q): %v, want an error saying %q", c.in, err, c.says)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		100 * time.Millisecond:  "100ms",
		time.Second:             "1s",
		1500 * time.Millisecond: "1.5s",
		250 * time.Microsecond:  "250us",
		1500 * time.Microsecond: "1.5ms",
		90 * time.Second:        "90s",
	} {
		if got := model.FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(want); err != nil || back != d {
			t.Errorf("time.ParseDuration(%q) = %s, %v", want, back, err)
		}
	}
}

func TestImpairmentCheck(t *testing.T) {
	for _, c := range []struct {
		imp  model.Impairment
		says string
	}{
		{model.Impairment{}, "give at least one of rate"},
		{model.Impairment{Loss: 101}, "loss=101 is not a percentage"},
		{model.Impairment{Duplicate: -1}, "duplicate=-1 is not a percentage"},
		{model.Impairment{Corrupt: 100.5}, "corrupt=100.5"},
		{model.Impairment{Jitter: time.Millisecond}, "give a delay too"},
		{model.Impairment{Reorder: 25}, "give a delay too"},
		{model.Impairment{Delay: time.Nanosecond}, "whole microseconds"},
		{model.Impairment{Delay: -time.Second}, "delay=-1s"},
		{model.Impairment{Limit: -1}, "limit=-1 is negative"},
	} {
		err := c.imp.Check()
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%+v: %v, want an error saying %q", c.imp, err, c.says)
		}
	}
	for _, ok := range []model.Impairment{{Rate: 1}, {Loss: 100}, {Delay: time.Millisecond, Jitter: time.Millisecond, Reorder: 50}, {Limit: 5}} {
		if err := ok.Check(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
}

// TestQdiscOps checks the step lines (the tc command a user types), the
// inverses and the journal form of the impairment ops.
func TestQdiscOps(t *testing.T) {
	eth0 := model.Link(model.Named("ns1"), "eth0")
	netem := model.Impairment{Delay: 100 * time.Millisecond, Jitter: 10 * time.Millisecond, Loss: 1.5, Duplicate: 1,
		Corrupt: 0.1, Reorder: 25, Rate: 1_000_000, Limit: 500}
	for _, c := range []struct {
		op   model.Op
		text string
	}{
		{model.ImpairLink(eth0, model.Impairment{Rate: 1_000_000}, 1500), "tc -n ns1 qdisc replace dev eth0 root tbf rate 8mbit burst 10000b latency 50ms"},
		// At least a full frame of the link's MTU fits the bucket.
		{model.ImpairLink(model.Link(model.Host, "br0"), model.Impairment{Rate: 62_500}, 1500), "tc qdisc replace dev br0 root tbf rate 500kbit burst 1514b latency 50ms"},
		{model.ImpairLink(model.Link(model.AtPath("/proc/7/ns/net"), "eth0"), model.Impairment{Rate: 125_000_000}, 9000), "nsenter --net=/proc/7/ns/net tc qdisc replace dev eth0 root tbf rate 1gbit burst 1250000b latency 50ms"},
		{model.ImpairLink(eth0, model.Impairment{Delay: 100 * time.Millisecond, Loss: 1}, 1500), "tc -n ns1 qdisc replace dev eth0 root netem delay 100ms loss 1%"},
		{model.ImpairLink(eth0, netem, 1500), "tc -n ns1 qdisc replace dev eth0 root netem delay 100ms 10ms loss 1.5% duplicate 1% corrupt 0.1% reorder 25% rate 8mbit limit 500"},
		{model.QdiscClear{Link: eth0}, "tc -n ns1 qdisc del dev eth0 root"},
	} {
		if got := c.op.Text(); got != c.text {
			t.Errorf("Text() = %q\nwant     %q", got, c.text)
		}
		data, err := model.Encode(c.op)
		if err != nil {
			t.Fatal(err)
		}
		back, err := model.Decode(data)
		if err != nil || back != c.op {
			t.Errorf("Decode(%s) = %#v, %v; want %#v", data, back, err, c.op)
		}
	}
	set := model.ImpairLink(eth0, netem, 1500)
	if inv := set.Inverse(); inv != (model.QdiscClear{Link: eth0}) {
		t.Errorf("inverse of %s: %#v", set.Text(), inv)
	}
	if data, _ := model.Encode(set); !strings.Contains(string(data), `"impair":{"rate":"8mbit","delay":"100ms","jitter":"10ms","loss":1.5,`) {
		t.Errorf("journal form %s does not hold the impairment as a user writes it", data)
	}
}

func TestMemoryImpairments(t *testing.T) {
	m := model.NewMemory(model.DefaultPaths)
	va, vb := model.Link(host, "va"), model.Link(ns1, "vb")
	apply(t, m, model.NetnsAdd{Name: "ns1"}, veth(va, vb))
	shaped := model.Impairment{Rate: 1_000_000}
	apply(t, m, model.ImpairLink(va, shaped, 1500), down(va), model.LinkRename{Link: va, To: "vc"})
	vc := model.Link(host, "vc")
	wantImpairments(t, m, host, map[string]model.Impairment{"vc": shaped})
	apply(t, m, model.QdiscClear{Link: vc})
	wantImpairments(t, m, host, map[string]model.Impairment{})
	refuse(t, m, model.QdiscClear{Link: vc}, model.ErrNotFound, "has no tbf or netem root qdisc")
	refuse(t, m, model.ImpairLink(vc, model.Impairment{Loss: 200}, 1500), nil, "loss=200 is not a percentage")
	// A move gives the link the kernel's default qdisc in its new namespace.
	apply(t, m, model.ImpairLink(vb, model.Impairment{Delay: time.Millisecond}, 1500), model.LinkMove{Link: vb, To: host})
	wantImpairments(t, m, host, map[string]model.Impairment{})
}

func wantImpairments(t *testing.T, m *model.Memory, ns model.NSRef, want map[string]model.Impairment) {
	t.Helper()
	got, err := m.Impairments(ns)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("impairments in %s: %v, want %v", ns, got, want)
	}
	for name, imp := range want {
		if got[name] != imp {
			t.Errorf("impairments of %s in %s: %+v, want %+v", name, ns, got[name], imp)
		}
	}
}

func TestMemoryThroughput(t *testing.T) {
	m := model.NewMemory(model.DefaultPaths)
	va, vb := model.Link(host, "va"), model.Link(ns1, "vb")
	apply(t, m, model.NetnsAdd{Name: "ns1"}, veth(va, vb), addr(va, "10.0.0.1/24"), addr(vb, "10.0.0.2/24"), up(va), up(vb))
	res, err := m.Throughput(t.Context(), host, ns1, net.ParseIP("10.0.0.2"), 5201, time.Second)
	if err != nil || res.Known {
		t.Errorf("throughput in the model: %+v, %v; want an unknown result", res, err)
	}
	if _, err := m.Throughput(t.Context(), host, ns1, net.ParseIP("10.0.9.2"), 5201, time.Second); err == nil || !strings.Contains(err.Error(), "has no route to 10.0.9.2") {
		t.Errorf("throughput to an address without a route: %v", err)
	}
	if _, err := m.Throughput(t.Context(), ns1, ns1, net.ParseIP("10.0.0.1"), 5201, time.Second); err == nil || !strings.Contains(err.Error(), "is in host, not in ns1") {
		t.Errorf("throughput to an address of another namespace: %v", err)
	}
	if _, err := m.Throughput(t.Context(), model.Named("nope"), ns1, net.ParseIP("10.0.0.2"), 5201, time.Second); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("throughput from a namespace that is not there: %v", err)
	}
}
