package builtins

// The reference of the playbook language: every predeclared name, every
// member of expect and every attribute and method of the handles, with its
// signature and one line that says what it does. It is written once, here:
// `nsplay help builtins` and `nsplay help NAME` print it from the binary,
// and the table at the top of docs/language.md is generated from it
// (`make docs`). reference_test.go holds it to the names the builtins
// really have, to the contract in DESIGN.md, and to the generated page.

//go:generate go run ./gendoc ../docs/language.md

import "slices"

// Entry is the reference of one name.
type Entry struct {
	// Name is how a playbook spells it: "bridge", "expect.reachable", and
	// for a handle's attribute or method the handle's kind, a dot and the
	// attribute: "link.set_up", "netns.link", "process.wait".
	Name string
	// Group is the part of the language it belongs to, for the table.
	Group string
	// Signature is the call with its parameters, as DESIGN.md writes them
	// (parameters after * are keyword-only), and what it returns.
	Signature string
	// Summary is one line: what it does.
	Summary string
	// Doc is a longer paragraph for `nsplay help NAME`; may be empty.
	Doc string
	// Section is the anchor of its section in docs/language.md.
	Section string
}

// The groups, in the order the table lists them.
const (
	groupNamespaces = "Namespaces"
	groupLinks      = "Links"
	groupRoutes     = "Routes"
	groupNetwork    = "Sysctls, NAT and files"
	groupCommands   = "Commands and processes"
	groupMeasure    = "Measurements"
	groupChecks     = "Checks"
	groupState      = "State and variables"
	groupStarlark   = "Starlark, as nsplay changes it"
)

// The struct a command's run gives back: exec_in, netns.exec, process.wait.
const execResult = "struct(rc, stdout, stderr, truncated)"

const execParams = `*, check=True, timeout="30s", env={}, stdin="", new=[], hostname=None`

var reference = []Entry{
	// Namespaces.
	{Name: "host", Group: groupNamespaces, Signature: "host", Section: "host",
		Summary: "the netns handle of the namespace nsplay started in",
		Doc: `Its .name is "host". A string "host" in a namespace argument means it too.
The lab never owns it: changing what is in it (other than what the lab
made) needs --allow-host.`},
	{Name: "netns", Group: groupNamespaces, Signature: "netns(name) / netns(pid=N) / netns(path=P) -> netns", Section: "netns",
		Summary: "create a named namespace (ip netns add), or attach to an existing one by pid or path",
		Doc: `Exactly one of name, pid= and path= is given. netns(name) makes
/run/netns/NAME; a name the lab owns already (a kept lab) is adopted, a
name someone else's is an error. pid= and path= attach to a namespace
that is there: the lab does not own it and never deletes it.`},
	{Name: "netns_list", Group: groupNamespaces, Signature: "netns_list() -> [string]", Section: "the-ip-netns-verbs",
		Summary: "the names under /run/netns, sorted (ip netns list)"},
	{Name: "netns_identify", Group: groupNamespaces, Signature: "netns_identify(pid) -> string or None", Section: "the-ip-netns-verbs",
		Summary: "the name of the network namespace process pid is in, or None when it has none (ip netns identify)"},
	{Name: "netns.name", Group: groupNamespaces, Signature: "netns.name -> string or None", Section: "netns-handles",
		Summary: `"host", the namespace's name, or None for one attached by pid or by a path outside /run/netns`},
	{Name: "netns.path", Group: groupNamespaces, Signature: "netns.path -> string", Section: "netns-handles",
		Summary: "a path that opens it, such as /run/netns/ns1"},
	{Name: "netns.owned", Group: groupNamespaces, Signature: "netns.owned -> bool", Section: "netns-handles",
		Summary: "True when this lab created it"},
	{Name: "netns.id", Group: groupNamespaces, Signature: "netns.id -> int or None", Section: "netns-handles",
		Summary: "the NETNSID host knows it by (ip netns list-id), None when it has none"},
	{Name: "netns.link", Group: groupNamespaces, Signature: "netns.link(name) -> link", Section: "netns-handles",
		Summary: "the link of that name in it; an error if there is none"},
	{Name: "netns.links", Group: groupNamespaces, Signature: "netns.links() -> [link]", Section: "netns-handles",
		Summary: "all its links, in index order"},
	{Name: "netns.routes", Group: groupNamespaces, Signature: "netns.routes() -> [route]", Section: "netns-handles",
		Summary: "the routes of its main table, without the kernel's IPv6 link-local and multicast ones"},
	{Name: "netns.pids", Group: groupNamespaces, Signature: "netns.pids() -> [int]", Section: "netns-handles",
		Summary: "the processes in it (ip netns pids)"},
	{Name: "netns.exec", Group: groupNamespaces, Signature: "netns.exec(cmd, " + execParams + ") -> " + execResult, Section: "netns-handles",
		Summary: "exec_in(this namespace, cmd, ...)"},
	{Name: "netns.set_id", Group: groupNamespaces, Signature: "netns.set_id(id) -> netns", Section: "netns-handles",
		Summary: "give it the NETNSID id, 0 to 2147483647 (ip netns set NAME id); not undone at teardown"},
	{Name: "netns.sysctl", Group: groupNamespaces, Signature: "netns.sysctl(key) -> string", Section: "sysctl",
		Summary: "a sysctl of its net.* tree, read now, as sysctl -n prints it"},
	{Name: "netns.delete", Group: groupNamespaces, Signature: "netns.delete() -> None", Section: "netns-handles",
		Summary: "delete a namespace the lab created (ip netns del); never one it attached to"},

	// Links.
	{Name: "bridge", Group: groupLinks, Signature: "bridge(name, *, ns=host, stp=False, mtu=0) -> link", Section: "bridge",
		Summary: "create a bridge (ip link add NAME type bridge stp_state 0|1)",
		Doc: `mtu=0 leaves the kernel's default. A bridge the lab owns already is
adopted and set to what the call asks; a link of that name that is not the
lab's is an error.`},
	{Name: "veth", Group: groupLinks, Signature: "veth(name, peer, *, ns=host, peer_ns=None) -> link", Section: "veth",
		Summary: "create a veth pair, each end in its namespace in one request; returns name's end",
		Doc: `peer_ns=None means the namespace of ns. Creating the ends where they
belong is much faster than a move afterwards. .peer gives the other end.`},
	{Name: "macvlan", Group: groupLinks, Signature: `macvlan(name, link, *, ns=None, mode="bridge") -> link`, Section: "macvlan",
		Summary: "create a macvlan on the parent link (mode bridge, private, vepa or passthru)",
		Doc: `link is a handle or the name of a link in ns (host when ns is None). With
ns the macvlan is made on the parent and placed in ns in the same request.
The parent must be the lab's, unless --allow-host.`},
	{Name: "vlan", Group: groupLinks, Signature: "vlan(name, link, id, *, ns=None) -> link", Section: "vlan",
		Summary: "create an 802.1Q VLAN with id 1 to 4094 on the parent link (needs module 8021q)"},
	{Name: "vxlan", Group: groupLinks, Signature: "vxlan(name, vni, *, ns=host, local=None, remote=None, group=None, dev=None, port=4789) -> link", Section: "vxlan",
		Summary: "create a VXLAN endpoint: an Ethernet segment in UDP over the namespace's underlay",
		Doc: `remote is the unicast far end, group a multicast group joined on dev (not
both). With dev the MTU is dev's less 50 (70 over IPv6). port is the UDP
destination port, IANA's 4789 by default.`},
	{Name: "tuntap", Group: groupLinks, Signature: `tuntap(name, *, ns=host, mode="tap") -> link`, Section: "tuntap",
		Summary: "create a persistent tun or tap device (ip tuntap add NAME mode MODE)"},
	{Name: "dummy", Group: groupLinks, Signature: "dummy(name, *, ns=host) -> link", Section: "dummy",
		Summary: "create a dummy link, a place for addresses (needs module dummy)"},
	{Name: "link.name", Group: groupLinks, Signature: "link.name -> string", Section: "link-handles",
		Summary: "its name (follows rename())"},
	{Name: "link.ns", Group: groupLinks, Signature: "link.ns -> netns", Section: "link-handles",
		Summary: "the namespace it is in (follows move())"},
	{Name: "link.index", Group: groupLinks, Signature: "link.index -> int", Section: "link-handles",
		Summary: "its interface index"},
	{Name: "link.kind", Group: groupLinks, Signature: "link.kind -> string", Section: "link-handles",
		Summary: `"bridge", "veth", "loopback", "macvlan", "vlan", "vxlan", "tuntap", "dummy", ...`},
	{Name: "link.up", Group: groupLinks, Signature: "link.up -> bool", Section: "link-handles",
		Summary: "administratively up (IFF_UP)"},
	{Name: "link.oper", Group: groupLinks, Signature: "link.oper -> string", Section: "link-handles",
		Summary: `operational state as ip prints it, lower case: "up", "down", "lowerlayerdown", "unknown", ...`},
	{Name: "link.carrier", Group: groupLinks, Signature: "link.carrier -> bool", Section: "link-handles",
		Summary: "the link has carrier (IFF_LOWER_UP)"},
	{Name: "link.mac", Group: groupLinks, Signature: "link.mac -> string", Section: "link-handles",
		Summary: `its MAC address, "aa:bb:cc:dd:ee:ff"`},
	{Name: "link.mtu", Group: groupLinks, Signature: "link.mtu -> int", Section: "link-handles",
		Summary: "its MTU"},
	{Name: "link.master", Group: groupLinks, Signature: "link.master -> string or None", Section: "link-handles",
		Summary: "the name of the bridge it is a port of"},
	{Name: "link.addrs", Group: groupLinks, Signature: "link.addrs -> [string]", Section: "link-handles",
		Summary: "its addresses with prefix length, IPv4 and IPv6, without IPv6 link-local ones"},
	{Name: "link.peer", Group: groupLinks, Signature: "link.peer -> link or None", Section: "link-handles",
		Summary: "the other end of a veth; None for other kinds"},
	{Name: "link.stp", Group: groupLinks, Signature: "link.stp -> bool or None", Section: "link-handles",
		Summary: "a bridge's STP state; None for other kinds"},
	{Name: "link.ports", Group: groupLinks, Signature: "link.ports -> [link]", Section: "link-handles",
		Summary: "the links whose master it is (a bridge's ports)"},
	{Name: "link.mode", Group: groupLinks, Signature: "link.mode -> string or None", Section: "link-handles",
		Summary: `a macvlan's mode ("bridge", "private", "vepa", "passthru") or a tun/tap's ("tap", "tun")`},
	{Name: "link.vlan_id", Group: groupLinks, Signature: "link.vlan_id -> int or None", Section: "link-handles",
		Summary: "a vlan's 802.1Q id"},
	{Name: "link.vni", Group: groupLinks, Signature: "link.vni -> int or None", Section: "link-handles",
		Summary: "a vxlan's VNI"},
	{Name: "link.port", Group: groupLinks, Signature: "link.port -> int or None", Section: "link-handles",
		Summary: "a vxlan's UDP destination port"},
	{Name: "link.local", Group: groupLinks, Signature: "link.local -> string or None", Section: "link-handles",
		Summary: "a vxlan's underlay source address"},
	{Name: "link.remote", Group: groupLinks, Signature: "link.remote -> string or None", Section: "link-handles",
		Summary: "a vxlan's unicast far end"},
	{Name: "link.group", Group: groupLinks, Signature: "link.group -> string or None", Section: "link-handles",
		Summary: "a vxlan's multicast group"},
	{Name: "link.parent", Group: groupLinks, Signature: "link.parent -> link or None", Section: "link-handles",
		Summary: "the link a macvlan or vlan was made on, or a vxlan's dev"},
	{Name: "link.impairments", Group: groupLinks, Signature: "link.impairments -> dict", Section: "impairments",
		Summary: `what its root qdisc does, read live, as impair() takes it: {"rate": "8mbit"}, {} for nothing`},
	{Name: "link.set_up", Group: groupLinks, Signature: "link.set_up() -> link", Section: "link-handles",
		Summary: "ip link set NAME up; waits for the IPv6 duplicate address detection its carrier starts"},
	{Name: "link.set_down", Group: groupLinks, Signature: "link.set_down() -> link", Section: "link-handles",
		Summary: "ip link set NAME down"},
	{Name: "link.add_addr", Group: groupLinks, Signature: "link.add_addr(cidr, *, nodad=False) -> link", Section: "link-handles",
		Summary: "ip addr add CIDR brd + dev NAME; an IPv6 address is usable when it returns (nodad=True skips DAD)"},
	{Name: "link.del_addr", Group: groupLinks, Signature: "link.del_addr(cidr) -> link", Section: "link-handles",
		Summary: "ip addr del CIDR dev NAME"},
	{Name: "link.set_master", Group: groupLinks, Signature: "link.set_master(bridge) -> link", Section: "link-handles",
		Summary: "make it a port of bridge, a handle or a name in the same namespace (ip link set NAME master BR)"},
	{Name: "link.set_nomaster", Group: groupLinks, Signature: "link.set_nomaster() -> link", Section: "link-handles",
		Summary: "take it off its bridge (ip link set NAME nomaster)"},
	{Name: "link.move", Group: groupLinks, Signature: "link.move(ns) -> link", Section: "link-handles",
		Summary: "move it into namespace ns, keeping its name (ip link set NAME netns NS)"},
	{Name: "link.rename", Group: groupLinks, Signature: "link.rename(name) -> link", Section: "link-handles",
		Summary: "ip link set OLD name NEW; the link must be down"},
	{Name: "link.set_mtu", Group: groupLinks, Signature: "link.set_mtu(mtu) -> link", Section: "link-handles",
		Summary: "ip link set NAME mtu N, 68 to 65535"},
	{Name: "link.delete", Group: groupLinks, Signature: "link.delete() -> None", Section: "link-handles",
		Summary: "ip link del NAME; both ends of a veth go"},
	{Name: "link.impair", Group: groupLinks,
		Signature: "link.impair(*, rate=None, delay=None, jitter=None, loss=0.0, duplicate=0.0, corrupt=0.0, reorder=0.0, limit=0) -> link",
		Section:   "impairments",
		Summary:   "shape what leaves the link: tbf for a rate alone, netem otherwise (tc qdisc replace ... root)",
		Doc: `Each call replaces what the link had. rate is in tc's units ("8mbit",
"10mbps" = 80mbit); delay and jitter are durations; loss, duplicate,
corrupt and reorder are percentages. A kernel without netem takes a rate
alone.`},
	{Name: "link.clear_impairments", Group: groupLinks, Signature: "link.clear_impairments() -> link", Section: "impairments",
		Summary: "remove its tbf or netem root qdisc (tc qdisc del dev NAME root)"},

	// Routes.
	{Name: "route", Group: groupRoutes, Signature: `route(ns, dst, *, via=None, dev=None, metric=0, table="main") -> route`, Section: "route",
		Summary: "add a route (ip route add DST [via VIA] [dev DEV] [metric N] [table T])",
		Doc: `dst is "default", a prefix or a bare address. At least one of via and dev
is needed. A route outside the lab's namespaces is the lab's: journalled
and removed at teardown.`},
	{Name: "route.dst", Group: groupRoutes, Signature: "route.dst -> string", Section: "route-handles",
		Summary: `"default" or the prefix`},
	{Name: "route.via", Group: groupRoutes, Signature: "route.via -> string or None", Section: "route-handles",
		Summary: "the gateway"},
	{Name: "route.dev", Group: groupRoutes, Signature: "route.dev -> string or None", Section: "route-handles",
		Summary: "the output link's name"},
	{Name: "route.metric", Group: groupRoutes, Signature: "route.metric -> int", Section: "route-handles",
		Summary: "the metric (1024 for an IPv6 route added with 0, as the kernel gives it)"},
	{Name: "route.table", Group: groupRoutes, Signature: "route.table -> string", Section: "route-handles",
		Summary: `"main", "local", "default" or the number`},
	{Name: "route.proto", Group: groupRoutes, Signature: "route.proto -> string", Section: "route-handles",
		Summary: `"boot", "kernel", "static", ...`},
	{Name: "route.scope", Group: groupRoutes, Signature: "route.scope -> string", Section: "route-handles",
		Summary: `"global", "link", "host", ...`},
	{Name: "route.delete", Group: groupRoutes, Signature: "route.delete() -> None", Section: "route-handles",
		Summary: "ip route del ...; a route the lab did not add, outside its namespaces, needs --allow-host"},

	// Sysctls, NAT and files.
	{Name: "scale", Group: groupNetwork, Signature: "scale(*, quiet_ipv6=True, static_neighbours=True) -> None", Section: "scale",
		Summary: "turn off what nsplay changes so that labs of thousands of hosts build fast and check true; call it before anything is made",
		Doc: `quiet_ipv6: each namespace the lab creates gets, before it has links,
dad_transmits=0, router_solicitations=0 and force_mld_version=1 (no DAD
probes, no router solicitations, MLDv1), so a bridge has no IPv6 chatter
of its hosts to flood. static_neighbours: a bridge the lab owns and the
hosts on its veth ports get permanent neighbour entries for each other's
addresses, on MACs the lab sets, so the machine-wide neighbour table
(gc_thresh3) cannot overflow. Both are step lines and show in state().
See docs/scale.md.`},
	{Name: "sysctl", Group: groupNetwork, Signature: "sysctl(ns, key, value) -> None", Section: "sysctl",
		Summary: "write a sysctl of the net.* tree as ns sees it (sysctl -w KEY=VALUE in ns)",
		Doc: `In a namespace the lab created the change goes with the namespace. In host
or an attached namespace it needs --allow-host, and teardown writes the old
value back. ns.sysctl(key) reads one.`},
	{Name: "nat", Group: groupNetwork, Signature: "nat(ns, out, *, src=None) -> None", Section: "nat-and-port_forward",
		Summary: "masquerade what leaves link out of ns (from prefix src, when given), with nftables"},
	{Name: "port_forward", Group: groupNetwork, Signature: `port_forward(ns, port, to, *, proto="tcp", dev=None) -> None`, Section: "nat-and-port_forward",
		Summary: `DNAT the connections to port of ns's own addresses on to to, "addr:port"`},
	{Name: "resolv_conf", Group: groupNetwork, Signature: "resolv_conf(ns, nameservers, *, search=[]) -> None", Section: "resolv_conf",
		Summary: "write /etc/netns/NAME/resolv.conf, which commands run in ns see as /etc/resolv.conf"},

	// Commands and processes.
	{Name: "exec_in", Group: groupCommands, Signature: "exec_in(target, cmd, " + execParams + ") -> " + execResult, Section: "exec_in",
		Summary: "run a command in a namespace (as ip netns exec) or in a process's namespaces, and wait for it",
		Doc: `cmd is a list (argv) or a string for /bin/sh -c. With check=True a non-zero
exit stops the playbook; with check=False read .rc. new=[...] gives the
command fresh namespaces of those kinds, as unshare(1) does. exec_in is not
guarded by --allow-host: it runs what the playbook says.`},
	{Name: "spawn", Group: groupCommands, Signature: `spawn(target, cmd, *, new=[], hostname=None, env={}, stdin="") -> process`, Section: "spawn",
		Summary: "start a command in the background; teardown stops it, a kept lab keeps it",
		Doc: `target, cmd, new, hostname, env and stdin mean what they mean for exec_in.
The process is journalled with its pid and start time; teardown (or
nsplay down) stops its process group.`},
	{Name: "process.pid", Group: groupCommands, Signature: "process.pid -> int", Section: "process-handles",
		Summary: "its process id, as nsplay sees it"},
	{Name: "process.alive", Group: groupCommands, Signature: "process.alive -> bool", Section: "process-handles",
		Summary: "True while it runs"},
	{Name: "process.ns", Group: groupCommands, Signature: "process.ns(kind) -> string", Section: "process-handles",
		Summary: `the path of its namespace of that kind, "/proc/PID/ns/KIND"`},
	{Name: "process.wait", Group: groupCommands, Signature: `process.wait(timeout="30s") -> ` + execResult, Section: "process-handles",
		Summary: `wait for it to end and return what exec_in returns; "0s" waits without a limit`},
	{Name: "process.kill", Group: groupCommands, Signature: `process.kill(signal="TERM") -> None`, Section: "process-handles",
		Summary: "send the signal to its process group (kill -TERM -PID)"},

	// Measurements.
	{Name: "ping", Group: groupMeasure, Signature: `ping(ns, dst, *, count=1, timeout="1s") -> struct(sent, received, rtt_ms)`, Section: "ping",
		Summary: "send count ICMP echo requests from ns to dst, one at a time; no answer is not an error"},
	{Name: "throughput", Group: groupMeasure, Signature: `throughput(src, dst, *, to=None, duration="1s", port=5201) -> struct(mbps, bytes, seconds)`, Section: "throughput",
		Summary: "measure TCP from namespace src to a receiver in namespace dst, as iperf3 does"},

	// Checks.
	{Name: "expect.eq", Group: groupChecks, Signature: `expect.eq(got, want, msg="") -> None`, Section: "expect",
		Summary: "check got == want"},
	{Name: "expect.ne", Group: groupChecks, Signature: `expect.ne(got, want, msg="") -> None`, Section: "expect",
		Summary: "check got != want"},
	{Name: "expect.true", Group: groupChecks, Signature: `expect.true(cond, msg="") -> None`, Section: "expect",
		Summary: "check that cond is true (Starlark truth)"},
	{Name: "expect.false", Group: groupChecks, Signature: `expect.false(cond, msg="") -> None`, Section: "expect",
		Summary: "check that cond is false"},
	{Name: "expect.contains", Group: groupChecks, Signature: `expect.contains(container, item, msg="") -> None`, Section: "expect",
		Summary: "check item in container (a substring, for strings)"},
	{Name: "expect.reachable", Group: groupChecks, Signature: `expect.reachable(ns, dst, *, timeout="2s", msg="") -> None`, Section: "expect",
		Summary: "check that an ICMP echo from ns to dst is answered within timeout; a failure says why",
		Doc: `It sends one echo at a time until one is answered. When none is, the line
says what the kernel shows: no route, a link down or without carrier (and
which peer or bridge is down), no address, a tentative IPv6 address, a
gateway that does not forward, or no route back.`},
	{Name: "expect.all_reachable", Group: groupChecks, Signature: `expect.all_reachable(pairs, *, timeout="2s", msg="") -> None`, Section: "expect",
		Summary: "check in one line that every (netns, address) pair answers an echo within timeout; the echoes go out at once",
		Doc: `pairs is a list of (netns, address) tuples, the netns a handle or a name.
At most 256 echoes are in flight; each pair retries until it is answered or
its timeout passes, so the check takes about as long as its slowest pair.
The line reads "1000 of 1000 answered, p50 0.05 ms, max 1.3 ms"; a failure
lists each pair that did not answer with the diagnosis expect.reachable
gives (the first 20 diagnosed). An empty list is an error.`},
	{Name: "expect.unreachable", Group: groupChecks, Signature: `expect.unreachable(ns, dst, *, timeout="1s", msg="") -> None`, Section: "expect",
		Summary: "check that no echo from ns to dst is answered within timeout"},
	{Name: "expect.listening", Group: groupChecks, Signature: `expect.listening(ns, port, *, proto="tcp", timeout="2s", msg="") -> None`, Section: "expect",
		Summary: `check that a socket in ns listens on port ("tcp") or is bound to it ("udp"), asking until timeout`},
	{Name: "expect.connects", Group: groupChecks, Signature: `expect.connects(ns, addr, port, *, timeout="2s", msg="") -> None`, Section: "expect",
		Summary: "check that a TCP connection from ns to addr:port opens, trying until timeout"},

	// State and variables.
	{Name: "state", Group: groupState, Signature: "state(ns=None) -> dict", Section: "state",
		Summary: "the lab's live state, normalized: what nsplay show --json prints and golden files hold",
		Doc: `state() is {"namespaces": [...]}; state(ns) is one namespace. In the lab's
own namespaces it holds everything; in host and attached namespaces only
the lab's objects.`},
	{Name: "var", Group: groupState, Signature: "var(name, default) -> value", Section: "var",
		Summary: "the value of -D name=value, converted to the type of default; default without it"},

	// Starlark.
	{Name: "load", Group: groupStarlark, Signature: `load("lib/x.star", "sym", alias="sym2")`, Section: "load",
		Summary: "a Starlark statement: run a recipe file (relative to the loading file) once, and bind its names"},
	{Name: "print", Group: groupStarlark, Signature: `print(*args, sep=" ") -> None`, Section: "print-and-fail",
		Summary: "write a log line at its position"},
	{Name: "fail", Group: groupStarlark, Signature: `fail(*args, sep=" ")`, Section: "print-and-fail",
		Summary: "stop the playbook with an error (exit status 2); the lab is torn down"},
	{Name: "str", Group: groupStarlark, Signature: "str(x) -> string", Section: "print-and-fail",
		Summary: "Starlark's str, refusing at once a value nested more than 1000 deep"},
	{Name: "repr", Group: groupStarlark, Signature: "repr(x) -> string", Section: "print-and-fail",
		Summary: "Starlark's repr, refusing at once a value nested more than 1000 deep"},
	{Name: "len", Group: groupStarlark, Signature: "len(x) -> int", Section: "values-only-the-kernel-knows",
		Summary: "Starlark's len; in a plan, the length of an unknown value is unknown"},
	{Name: "int", Group: groupStarlark, Signature: "int(x, base=10) -> int", Section: "values-only-the-kernel-knows",
		Summary: "Starlark's int; in a plan, int() of an unknown value is unknown"},
	{Name: "float", Group: groupStarlark, Signature: "float(x) -> float", Section: "values-only-the-kernel-knows",
		Summary: "Starlark's float; in a plan, float() of an unknown value is unknown"},
}

// Reference returns every entry, in the order of the table.
func Reference() []Entry { return slices.Clone(reference) }

// Lookup returns the entry of name, such as "bridge" or "link.set_up".
func Lookup(name string) (Entry, bool) {
	i := slices.IndexFunc(reference, func(e Entry) bool { return e.Name == name })
	if i < 0 {
		return Entry{}, false
	}
	return reference[i], true
}
