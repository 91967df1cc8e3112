package model

import (
	"context"
	"net"
	"time"
)

// Backend is where a lab lives: the kernel, or the in-memory model a plan
// runs against. internal/lab applies every change through it and builtins
// read every attribute through it; nothing above a backend reaches netlink.
type Backend interface {
	// Apply makes one change. It reports ErrNotFound, ErrExists and
	// ErrUnsupported (wrapped) where they apply. A change that fails
	// leaves nothing of itself behind: the lab forgets it.
	Apply(op Op) error

	// Identity names the namespace, and is never given to another one
	// (the kernel: its netns cookie); a namespace that is not there is
	// ErrNotFound. A namespace deleted and made again under the same name
	// has another identity.
	Identity(ns NSRef) (uint64, error)
	// NamedList lists the named namespaces, sorted (ip netns list).
	NamedList() ([]string, error)
	// NetnsID is the id under which namespace in knows namespace of, or -1
	// (ip netns list-id).
	NetnsID(in, of NSRef) (int, error)

	// Link reads one link, with its master, veth peer, bridge STP state
	// and ports.
	Link(l LinkRef) (LinkInfo, error)
	// LinkIndex is the link's index, read at once: Link may first wait
	// for the links that deleted namespaces take along.
	LinkIndex(l LinkRef) (int, error)
	// Links lists a namespace's links, in index order.
	Links(ns NSRef) ([]LinkInfo, error)
	// Addrs lists a link's addresses; IPv6 link-local ones are left out.
	Addrs(l LinkRef) ([]AddrInfo, error)
	// Routes lists a namespace's routes of every table but local; the IPv6
	// link-local and multicast routes the kernel adds itself are left out.
	Routes(ns NSRef) ([]RouteInfo, error)
	// Settle waits, up to limit, until the operational states of the
	// namespace's links agree with their carriers.
	Settle(ns NSRef, limit time.Duration) error
	// Sysctl reads a sysctl of the net.* tree as namespace ns sees it
	// (SysctlPath); a key that is not there is ErrNotFound.
	Sysctl(ns NSRef, key string) (string, error)
	// NATRules lists the rules of a lab's nftables table in ns, each as
	// its NATRule text, in chain order; no such table is ErrNotFound.
	NATRules(ns NSRef, table string) ([]string, error)
	// QuietMLDPorts lists the ports in the set of a lab's table of family
	// bridge in ns (MLDQuiet), sorted; no such table is ErrNotFound.
	QuietMLDPorts(ns NSRef, table string) ([]string, error)
	// Neighbours lists the permanent neighbour entries of a namespace's
	// links (ip neigh show nud permanent), by link.
	Neighbours(ns NSRef) ([]NeighInfo, error)
	// ReadFile and ReadDir read the files a lab writes.
	ReadFile(path string) ([]byte, error)
	ReadDir(path string) ([]string, error)

	// Ping sends ICMP echo requests from inside ns, timeout each.
	Ping(ctx context.Context, ns NSRef, dst net.IP, count int, timeout time.Duration) (PingResult, error)
	// EchoAll sends echo requests for every echo at once, a bounded
	// number at a time, each until one is answered or timeout passes, and
	// reports each in the order given. It stops early when ctx is
	// cancelled.
	EchoAll(ctx context.Context, echoes []Echo, timeout time.Duration) ([]EchoResult, error)
	// WhyUnreachable explains, in the terms a user of `ip` looks for, why
	// dst may not answer from ns.
	WhyUnreachable(ns NSRef, dst net.IP) string
	// Listening tells whether a socket in ns listens on port.
	Listening(ns NSRef, proto string, port int) (bool, error)
	// Connect opens (and closes) a TCP connection from ns.
	Connect(ns NSRef, addr net.IP, port int, timeout time.Duration) error
	// Throughput sends TCP data from src to to:port for d, to a receiver
	// in dst, and reports what the receiver counted.
	Throughput(ctx context.Context, src, dst NSRef, to net.IP, port int, d time.Duration) (ThroughputResult, error)
	// Impairments reads what the root qdiscs (tbf, netem) of the links in
	// ns do, by link name; links without one are left out.
	Impairments(ns NSRef) (map[string]Impairment, error)

	// Exec runs a command and waits for it; Start runs one in the
	// background.
	Exec(ctx context.Context, spec ExecSpec) (ExecResult, error)
	Start(spec ExecSpec) (Proc, error)
	// StartTime is when process pid started (against pid reuse).
	StartTime(pid int) (uint64, error)
	// StopProcessesIn ends the processes in the namespaces (SIGTERM, then
	// SIGKILL after grace) and says which it stopped.
	StopProcessesIn(spaces []NSRef, grace time.Duration) ([]Stopped, error)
	// PIDs lists the processes in ns (ip netns pids).
	PIDs(ns NSRef) ([]int, error)
	// Identify names the named namespace process pid is in, or ""
	// (ip netns identify).
	Identify(pid int) (string, error)

	// Forget drops what the backend holds open for a namespace.
	Forget(ns NSRef)
	// Close releases everything the backend holds open.
	Close()
}

// PingResult is what came back. Known is false when only the kernel could
// tell the round trips (a plan): Received is then what the model decides.
type PingResult struct {
	Sent, Received int
	RTTs           []time.Duration
	Known          bool
}

// Stopped is a process StopProcessesIn ended.
type Stopped struct {
	PID     int
	Command string
	NS      string // the namespace it was in
}

// Paths are the places a lab keeps things, so that a sandbox, a test and
// later a remote host each bring their own.
type Paths struct {
	RunNetns string // named namespaces: /run/netns
	Labs     string // journals and locks: /run/nsplay
	EtcNetns string // per-namespace /etc files: /etc/netns
}

// DefaultPaths are the machine's, as iproute2 uses them.
var DefaultPaths = Paths{RunNetns: "/run/netns", Labs: "/run/nsplay", EtcNetns: "/etc/netns"}
