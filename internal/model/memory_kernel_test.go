//go:build kerneldiff

package model_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/model"
)

// A throwaway differential check: random op sequences applied to the model
// and, as ip commands, to a kernel in a private unshare --net --mount.

var spaces = []model.NSRef{model.Host, model.Named("n1"), model.Named("n2")}

func randomOp(r *rand.Rand, m *model.Memory) model.Op {
	ns := spaces[r.IntN(3)]
	links, _ := m.Links(ns)
	pick := func() model.LinkRef {
		if len(links) > 0 && r.IntN(10) < 8 {
			return model.Link(ns, links[r.IntN(len(links))].Name)
		}
		return model.Link(ns, []string{"va", "vb", "eth0"}[r.IntN(3)])
	}
	names := []string{"va", "vb", "vc", "vd", "ve", "vg"}
	cidrs := []string{"10.0.0.1/24", "10.0.0.2/24", "10.0.0.3/24", "10.0.1.1/24", "10.0.0.9/32", "10.0.0.1/16", "fd00::1/64", "fd00::2/64"}
	switch r.IntN(14) {
	case 0, 1:
		return model.LinkAdd{Link: model.Link(ns, names[r.IntN(6)]), Spec: model.Veth{Peer: model.Link(spaces[r.IntN(3)], names[r.IntN(6)])}}
	case 2:
		return model.LinkAdd{Link: model.Link(ns, []string{"br0", "br1"}[r.IntN(2)]), Spec: model.Bridge{STP: r.IntN(5) == 0}}
	case 3, 4, 5:
		return model.LinkSetUp{Link: pick(), Up: r.IntN(4) > 0}
	case 6:
		master := ""
		if r.IntN(4) > 0 {
			master = []string{"br0", "br1"}[r.IntN(2)]
		}
		return model.LinkSetMaster{Link: pick(), Master: master}
	case 7:
		return model.LinkMove{Link: pick(), To: spaces[r.IntN(3)]}
	case 8:
		return model.LinkRename{Link: pick(), To: []string{"eth0", "eth1", "va"}[r.IntN(3)]}
	case 9, 10:
		c := cidrs[r.IntN(len(cidrs))]
		return model.AddrAdd{Link: pick(), CIDR: c, NoDAD: strings.Contains(c, ":")}
	case 11:
		return model.AddrDel{Link: pick(), CIDR: cidrs[r.IntN(len(cidrs))]}
	case 12:
		rt := model.Route{Dst: []string{"default", "10.9.0.0/16", "fd09::/64"}[r.IntN(3)]}
		if r.IntN(2) == 0 {
			rt.Dev = pick().Name
		} else if strings.Contains(rt.Dst, ":") {
			rt.Via = "fd00::" + strconv.Itoa(1+r.IntN(3))
		} else {
			rt.Via = "10.0.0." + strconv.Itoa(1+r.IntN(3))
		}
		return model.RouteAdd{NS: ns, Route: rt}
	case 13:
		if r.IntN(3) == 0 {
			return model.LinkSetMTU{Link: pick(), MTU: []int{1400, 9000}[r.IntN(2)]}
		}
		return model.LinkDel{Link: pick()}
	}
	return nil
}

type ipLink struct {
	Name   string   `json:"ifname"`
	Flags  []string `json:"flags"`
	MTU    int      `json:"mtu"`
	Oper   string   `json:"operstate"`
	Master string   `json:"master"`
	Addrs  []struct {
		Family, Local, Broadcast, Scope string
		Prefixlen                       int
	} `json:"addr_info"`
}

type ipRoute struct {
	Type, Dst, Gateway, Dev, Protocol, Scope, Table string
	Metric                                          int
}

func TestKernelDiff(t *testing.T) {
	seeds, _ := strconv.Atoi(orDefault(os.Getenv("SEEDS"), "5"))
	first, _ := strconv.Atoi(orDefault(os.Getenv("SEED"), "1"))
	for seed := first; seed < first+seeds; seed++ {
		t.Run(strconv.Itoa(seed), func(t *testing.T) { diff(t, uint64(seed)) })
	}
}

func orDefault(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func diff(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 9))
	m := model.NewMemory(model.DefaultPaths)
	var script strings.Builder
	script.WriteString("mount -t tmpfs none /run; mkdir /run/netns; touch /run/netns/host; mount --bind /proc/self/ns/net /run/netns/host\nip link set lo up\n")
	var ops []model.Op
	var errs []bool
	add := func(op model.Op) {
		err := m.Apply(op)
		ops = append(ops, op)
		errs = append(errs, err != nil)
		fmt.Fprintf(&script, "%s >/dev/null 2>&1; echo \"@@rc $?\"; sleep %s\n", op.Text(), orDefault(os.Getenv("GAP"), "1.05"))
	}
	add(model.NetnsAdd{Name: "n1"})
	add(model.NetnsAdd{Name: "n2"})
	if os.Getenv("LAB") != "" {
		// a switch in one namespace, a veth from every namespace to it
		sw := spaces[r.IntN(3)]
		add(model.LinkAdd{Link: model.Link(sw, "br0"), Spec: model.Bridge{STP: r.IntN(8) == 0}})
		if r.IntN(4) > 0 {
			add(model.AddrAdd{Link: model.Link(sw, "br0"), CIDR: "10.0.0.1/24"})
			add(model.AddrAdd{Link: model.Link(sw, "br0"), CIDR: "fd00::1/64", NoDAD: true})
		}
		add(model.LinkSetUp{Link: model.Link(sw, "br0"), Up: r.IntN(5) > 0})
		for i, ns := range spaces {
			if r.IntN(5) > 0 {
				add(model.LinkSetUp{Link: model.Link(ns, "lo"), Up: true})
			}
			if ns == sw {
				continue
			}
			eth0, port := model.Link(ns, "eth0"), model.Link(sw, "p"+strconv.Itoa(i))
			add(model.LinkAdd{Link: eth0, Spec: model.Veth{Peer: port}})
			add(model.AddrAdd{Link: eth0, CIDR: fmt.Sprintf("10.0.0.%d/24", i+2)})
			add(model.AddrAdd{Link: eth0, CIDR: fmt.Sprintf("fd00::%d/64", i+2), NoDAD: true})
			add(model.LinkSetUp{Link: eth0, Up: r.IntN(5) > 0})
			add(model.LinkSetMaster{Link: port, Master: "br0"})
			add(model.LinkSetUp{Link: port, Up: r.IntN(5) > 0})
			if r.IntN(3) == 0 {
				add(model.RouteAdd{NS: ns, Route: model.Route{Dst: "10.9.0.0/16", Via: "10.0.0.1"}})
			}
		}
	}
	for range 14 {
		add(randomOp(r, m))
	}
	script.WriteString("sleep 1.5\n")
	for _, ns := range spaces {
		ipn := "ip -n " + orDefault(ns.Name(), "host")
		fmt.Fprintf(&script, "echo @@links; %s -j addr\necho @@routes; %s -j -4 route show table all; %s -j -6 route show table all\n", ipn, ipn, ipn)
	}
	// pings
	type probe struct {
		ns  model.NSRef
		dst string
	}
	var probes []probe
	for _, ns := range spaces {
		for _, dst := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.1.1", "fd00::1", "fd00::2", "fd00::3", "fd00::4", "10.9.0.1"} {
			if r.IntN(2) == 0 {
				probes = append(probes, probe{ns, dst})
				fmt.Fprintf(&script, "ip netns exec %s python3 /tmp/pyping.py %s >/dev/null 2>&1; echo \"@@ping $?\"\n", orDefault(ns.Name(), "host"), dst)
			}
		}
	}
	out, err := exec.Command("unshare", "--net", "--mount", "sh", "-c", script.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(string(out), "\n")
	var rcs, pings []bool
	var linkDumps, routeDumps []string
	for i, line := range lines {
		switch {
		case strings.HasPrefix(line, "@@rc "):
			rcs = append(rcs, line != "@@rc 0")
		case strings.HasPrefix(line, "@@ping "):
			pings = append(pings, line == "@@ping 0")
		case line == "@@links":
			linkDumps = append(linkDumps, lines[i+1])
		case line == "@@routes":
			routeDumps = append(routeDumps, lines[i+1]+"\n"+lines[i+2])
		}
	}
	var log strings.Builder
	for i, op := range ops {
		mark := ""
		if errs[i] != rcs[i] {
			mark = fmt.Sprintf("   <-- model error %v, kernel error %v", errs[i], rcs[i])
			t.Fail()
		}
		fmt.Fprintf(&log, "  %s%s\n", op.Text(), mark)
	}
	for i, ns := range spaces {
		var kernel []ipLink
		if err := json.Unmarshal([]byte(linkDumps[i]), &kernel); err != nil {
			t.Fatalf("%s: %v: %s", ns, err, linkDumps[i])
		}
		var want, got []string
		for _, l := range kernel {
			s := fmt.Sprintf("%s up=%v carrier=%v oper=%s mtu=%d master=%s", l.Name, slices.Contains(l.Flags, "UP"), slices.Contains(l.Flags, "LOWER_UP"), strings.ToLower(l.Oper), l.MTU, l.Master)
			for _, a := range l.Addrs {
				if a.Family == "inet6" && a.Scope == "link" {
					continue
				}
				s += fmt.Sprintf(" %s/%d brd=%s %s", a.Local, a.Prefixlen, a.Broadcast, a.Scope)
			}
			want = append(want, s)
		}
		links, _ := m.Links(ns)
		for _, l := range links {
			s := fmt.Sprintf("%s up=%v carrier=%v oper=%s mtu=%d master=%s", l.Name, l.Up, l.Carrier, l.Oper, l.MTU, l.Master)
			as, _ := m.Addrs(model.Link(ns, l.Name))
			for _, a := range as {
				s += fmt.Sprintf(" %s brd=%s %s", a.CIDR, a.Broadcast, a.Scope)
			}
			got = append(got, s)
		}
		if !slices.Equal(want, got) {
			t.Errorf("links of %s:\nkernel:\n  %s\nmodel:\n  %s", ns, strings.Join(want, "\n  "), strings.Join(got, "\n  "))
		}
		want, got = nil, nil
		for _, dump := range strings.Split(routeDumps[i], "\n") {
			var rs []ipRoute
			if err := json.Unmarshal([]byte(dump), &rs); err != nil {
				t.Fatalf("%v: %s", err, dump)
			}
			for _, rt := range rs {
				if rt.Table == "local" || (rt.Type != "" && rt.Type != "unicast") || strings.HasPrefix(rt.Dst, "fe80:") || strings.HasPrefix(rt.Dst, "ff00:") {
					continue
				}
				dst := rt.Dst
				if _, _, err := net.ParseCIDR(dst); err != nil && dst != "default" {
					dst, _ = model.CanonicalDst(dst)
				}
				want = append(want, fmt.Sprintf("%s via=%s dev=%s proto=%s scope=%s metric=%d table=%s", dst, rt.Gateway, rt.Dev, orDefault(rt.Protocol, "boot"), orDefault(rt.Scope, "global"), rt.Metric, orDefault(rt.Table, "main")))
			}
		}
		rs, _ := m.Routes(ns)
		for _, rt := range rs {
			got = append(got, fmt.Sprintf("%s via=%s dev=%s proto=%s scope=%s metric=%d table=%s", rt.Dst, rt.Via, rt.Dev, rt.Proto, rt.Scope, rt.Metric, rt.Table))
		}
		if !slices.Equal(want, got) {
			t.Errorf("routes of %s:\nkernel:\n  %s\nmodel:\n  %s", ns, strings.Join(want, "\n  "), strings.Join(got, "\n  "))
		}
	}
	for i, p := range probes {
		res, _ := m.Ping(context.Background(), p.ns, net.ParseIP(p.dst), 1, 0)
		if (res.Received == 1) != pings[i] {
			t.Errorf("ping %s from %s: kernel %v, model %v (%s)", p.dst, p.ns, pings[i], res.Received == 1, m.WhyUnreachable(p.ns, net.ParseIP(p.dst)))
		}
	}
	if t.Failed() {
		t.Logf("ops:\n%s", log.String())
	}
}
