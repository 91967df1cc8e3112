// Package kernel talks to the Linux kernel for nsplay: network namespaces,
// links, addresses and routes through netlink handles bound to a namespace,
// ICMP echo from inside a namespace, and commands run the way
// `ip netns exec` runs them. It knows nothing of Starlark or of labs.
package kernel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/google/nftables"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NS is an open network namespace with one netlink handle bound to it, so
// that link, address and route calls never switch the calling thread.
//
// The functions that take a dir take the folder where named namespaces are
// bind-mounted, as `ip netns` does in /run/netns (model.Paths.RunNetns).
type NS struct {
	Name string // the name under dir, or "" for a namespace known by another path
	Path string // a path that names the namespace, e.g. /run/netns/ns1 or /proc/42/ns/net
	dir  string // the folder of named namespaces it was opened in; Name is under it
	// Label is how messages name the namespace when it has no Name ("host").
	Label  string
	fd     netns.NsHandle
	ino    uint64 // the namespace's inode, read once: it never changes
	cookie uint64 // its netns cookie (see Cookie)
	nl     *netlink.Handle
	raw    *nl.SocketHandle // for requests the netlink package does not model or makes in two (rtnl.go)
	// nftConn is n's connection to nftables, once one was needed (nat.go).
	nftConn *nftables.Conn
	ids     idMemo // the netns ids n knows other namespaces under (netnsid.go)
	// closed says why n may not be used: set by Close and Delete.
	closed error
	// recheck is how long a look at n's name is trusted (nameHolds): 0
	// for an NS used on its own, which looks each time; nameRecheck for
	// one a Backend hands out, whose every step asks for it many times.
	recheck time.Duration
	// lookedUp is when nameHolds last found the name naming n (unix
	// nanoseconds). Atomic: a batch of echoes uses namespaces from many
	// goroutines.
	lookedUp atomic.Int64
	// steps are the steps of the Backend that hands n out (nil for an NS
	// used on its own), and links what n remembers within one (steps.go).
	steps *steps
	links linkMemo
}

// nameRecheck is how long a Backend trusts a look at a namespace's name: a
// step asks for its namespaces many times within a fraction of a
// millisecond (a thousand-host lab made a hundred thousand stat calls for
// the same names), and another program's ip netns del and add take longer
// than that.
const nameRecheck = time.Millisecond

// nameHolds tells whether n's name under its folder still names n, looking
// again unless it did so within n.recheck or, as what a step reads is
// trusted until the step ends (steps.go), earlier in the current step.
func (n *NS) nameHolds() bool {
	now := time.Now().UnixNano()
	if now-n.lookedUp.Load() < int64(n.recheck) {
		return true
	}
	checked := false
	n.inStep(func(m *linkMemo) { checked = m.nameHeld })
	if checked {
		return true
	}
	if NamedInode(n.dir, n.Name) != n.ino {
		return false
	}
	n.lookedUp.Store(now)
	n.inStep(func(m *linkMemo) { m.nameHeld = true })
	return true
}

// Current opens the namespace of the calling thread. nsplay calls it once at
// start, before anything switches threads, to get the "host" namespace.
func Current() (*NS, error) {
	path := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
	ns, err := open("", path, "")
	if ns != nil {
		ns.Label = "host"
	}
	return ns, err
}

// Open opens an existing namespace by path (/proc/PID/ns/net, a bind mount).
// A path right under dir gives the namespace its name there.
func Open(dir, path string) (*NS, error) {
	name := ""
	if parent, file := filepath.Split(filepath.Clean(path)); dir != "" && filepath.Clean(parent) == filepath.Clean(dir) {
		name = file
	}
	return open(dir, path, name)
}

// OpenNamed opens the namespace `ip netns add NAME` would have made in dir.
func OpenNamed(dir, name string) (*NS, error) {
	if err := validNetnsFile(name); err != nil {
		return nil, err
	}
	return open(dir, filepath.Join(dir, name), name)
}

// NamedExists tells whether dir holds a namespace of that name.
func NamedExists(dir, name string) bool {
	_, err := os.Lstat(filepath.Join(dir, name))
	return err == nil
}

// open opens the namespace at path; name is its name under dir, or "".
// A thread is switched into it once, to bind the handle there.
func open(dir, path, name string) (*NS, error) {
	n, err := openFile(dir, path, name)
	if err != nil {
		return nil, err
	}
	if err := netSwitch(int(n.fd), path).run(n.bindHere); err != nil {
		n.fd.Close()
		return nil, fmt.Errorf("open netlink socket in %s: %w", path, err)
	}
	return n, nil
}

// openFile opens the namespace file at path, without a handle yet.
func openFile(dir, path, name string) (*NS, error) {
	fd, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", path, classify(err))
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(fd), &fs); err != nil || fs.Type != unix.NSFS_MAGIC {
		fd.Close()
		if dir != "" && placeholder(dir, name) {
			// The name is there, the namespace is not: so is it gone.
			return nil, fmt.Errorf("%s is an empty file with no namespace mounted on it (%s): %w", path, placeholderCause, ErrNotFound)
		}
		hint := "a namespace path is /proc/PID/ns/net or a bind mount of one"
		if dir != "" {
			hint += ", like " + filepath.Join(dir, "NAME")
		}
		return nil, fmt.Errorf("%s is not a namespace (not on nsfs): %s", path, hint)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(fd), &st); err != nil {
		fd.Close()
		return nil, fmt.Errorf("stat network namespace %s: %w", path, err)
	}
	return &NS{Name: name, Path: path, dir: dir, fd: fd, ino: st.Ino, cookie: st.Ino}, nil
}

// bindHere reads the cookie of the calling thread's namespace and makes
// n's netlink handle there: the thread must be inside n.
func (n *NS) bindHere() error {
	if c, ok := netnsCookie(); ok {
		n.cookie = c
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	raw, err := rawSocket()
	if err != nil {
		h.Close()
		return err
	}
	n.nl, n.raw = h, raw
	return nil
}

// netnsCookie is the kernel's cookie of the calling thread's network
// namespace (SO_NETNS_COOKIE, Linux 5.14): unlike its inode, it is never
// given to another namespace, also after this one is freed.
func netnsCookie() (uint64, bool) {
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, false
	}
	defer unix.Close(s)
	var c uint64
	size := uint32(unsafe.Sizeof(c))
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(s), unix.SOL_SOCKET, unix.SO_NETNS_COOKIE,
		uintptr(unsafe.Pointer(&c)), uintptr(unsafe.Pointer(&size)), 0)
	return c, errno == 0
}

// Cookie names the namespace for as long as the machine runs: the kernel's
// netns cookie, or, on kernels before 5.14, its inode (which the kernel may
// give to a namespace made after this one is freed).
func (n *NS) Cookie() uint64 { return n.cookie }

// Err is nil while n may be used. After Close or Delete, and once the name
// n has under its folder no longer names it (`ip netns del` from outside), it
// says why not and matches ErrGone. Every method that reaches the kernel
// checks it first: a closed netlink handle would otherwise answer from the
// namespace of the calling thread, the host.
func (n *NS) Err() error {
	if n.closed != nil {
		return n.closed
	}
	if n.Name != "" && !n.nameHolds() {
		return goneError(fmt.Sprintf("namespace %s is gone: %s no longer names it (deleted with ip netns del?)", n.Name, filepath.Join(n.dir, n.Name)))
	}
	return nil
}

// usable is the first error of Err among spaces.
func usable(spaces ...*NS) error {
	for _, ns := range spaces {
		if err := ns.Err(); err != nil {
			return err
		}
	}
	return nil
}

// validNetnsFile rejects names that are no file right under the namespace
// directory. It is all OpenNamed asks: other tools' namespaces may have
// names a lab may not give (model.ValidNetnsName).
func validNetnsFile(name string) error {
	switch {
	case name == "":
		return errors.New("namespace name is empty")
	case name == "." || name == ".." || strings.ContainsRune(name, '/'):
		return fmt.Errorf("namespace name %q is not allowed: it must not contain '/' or be '.' or '..'", name)
	case len(name) > 255:
		return fmt.Errorf("namespace name %q is %d bytes; at most 255 fit a file name", name, len(name))
	}
	return nil
}

// CreateNamed makes a new network namespace and bind-mounts it as
// dir/name, like `ip netns add`. A thread is switched into the new
// namespace once, for the mount and the handle.
func CreateNamed(dir, name string) (*NS, error) {
	if err := model.ValidNetnsName(name); err != nil {
		return nil, err
	}
	if err := ensureShared(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if errors.Is(err, os.ErrExist) && placeholder(dir, name) {
		return nil, fmt.Errorf("create namespace %s: %s is an empty file with no namespace mounted on it (%s); remove it (rm %s), or choose another name: %w", name, path, placeholderCause, path, ErrExists)
	}
	if err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", name, classify(err))
	}
	f.Close()
	// One switch: the thread that made the namespace mounts it and binds
	// the handle while it is inside.
	var n *NS
	mounted := false
	err = newNetSwitch.run(func() (err error) {
		if err := unix.Mount("/proc/thread-self/ns/net", path, "none", unix.MS_BIND, ""); err != nil {
			return err
		}
		mounted = true
		if n, err = openFile(dir, path, name); err != nil {
			return err
		}
		if err := n.bindHere(); err != nil {
			n.fd.Close()
			return fmt.Errorf("open netlink socket in %s: %w", path, err)
		}
		return nil
	})
	if err != nil {
		if n != nil && n.nl != nil {
			n.Close() // the switch back failed: the handle is made, but not trusted
		}
		if mounted {
			unix.Unmount(path, unix.MNT_DETACH)
		}
		os.Remove(path)
		return nil, fmt.Errorf("create namespace %s: %w", name, namespaceLimit([]string{"net"}, err))
	}
	return n, nil
}

// shared holds the folders ensureShared made shared mount points in
// nsplay's mount namespace: once is enough, where each time costs a mount
// per namespace made.
var shared sync.Map

// ensureShared makes dir a shared mount point, as iproute2 does with
// /run/netns, so that namespaces mounted there are seen in mount
// namespaces made later.
func ensureShared(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if _, done := shared.Load(dir); done {
		return nil
	}
	err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) {
		if err = unix.Mount(dir, dir, "none", unix.MS_BIND|unix.MS_REC, ""); err == nil {
			err = unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
		}
	}
	if err != nil {
		return fmt.Errorf("make %s a shared mount: %w", dir, err)
	}
	shared.Store(dir, true)
	return nil
}

// In runs fn on a locked thread that is inside n, then moves the thread back
// (see nsSwitch.run). Only what fn does directly happens in n: goroutines
// it starts do not.
func (n *NS) In(fn func() error) error {
	if err := n.Err(); err != nil {
		return err
	}
	return n.enter().run(fn)
}

// enter is the switch into n.
func (n *NS) enter() nsSwitch { return netSwitch(int(n.fd), n.Path) }

// Inode identifies the namespace (as `ls -i /proc/PID/ns/net` shows it)
// while n is open; 0 after Close.
func (n *NS) Inode() uint64 {
	if n.closed != nil {
		return 0
	}
	return n.ino
}

// NamedInode is the inode of the namespace mounted as dir/name, or 0.
func NamedInode(dir, name string) uint64 {
	var st unix.Stat_t
	if unix.Stat(filepath.Join(dir, name), &st) != nil {
		return 0
	}
	return st.Ino
}

// Fd is the namespace's file descriptor, valid until Close.
func (n *NS) Fd() int { return int(n.fd) }

// Same tells whether n and o are the same namespace (same inode).
func (n *NS) Same(o *NS) bool {
	if n == o {
		return true
	}
	return n != nil && o != nil && n.fd.Equal(o.fd)
}

// Close releases the handle and the namespace file descriptor; n refuses
// every use after it (see Err). The namespace itself lives on while it is
// mounted or has processes. Closing twice is harmless.
func (n *NS) Close() {
	if n.closed != nil {
		return
	}
	if n.raw != nil {
		n.raw.Close()
	}
	if n.nftConn != nil {
		n.nftConn.CloseLasting()
	}
	n.nl.Close()
	n.fd.Close()
	// A use that skipped Err panics on the nil handle rather than reach
	// the host through the netlink package's fallback.
	n.nl, n.raw, n.nftConn = nil, nil, nil
	n.closed = goneError(fmt.Sprintf("the handle of namespace %s is closed", n))
}

// Delete closes n and removes its mount under its folder, like `ip netns del`.
// The kernel frees the namespace, and the links in it, once nothing else
// holds it, and does so in the background: Delete waits (up to 5s) until
// the veths whose peers sit in the known namespaces are gone too, so that
// what the caller reads next is the state after the deletion. n refuses
// every use after it: Err says that it was deleted.
func (n *NS) Delete(known []*NS) error {
	if n.Name == "" {
		return fmt.Errorf("namespace %s has no name: nsplay deletes only the named namespaces it created", n.Path)
	}
	if err := n.Err(); err != nil {
		return err
	}
	peers := n.outsidePeers(func(n *NS, l LinkInfo) (*NS, LinkInfo, error) { return n.Peer(l, known) })
	n.Close()
	if err := DeleteNamed(n.dir, n.Name); err != nil {
		return err
	}
	n.closed = goneError("namespace " + n.Name + " was deleted")
	for _, p := range peers {
		if err := p.ns.WaitGone(p.link, 5*time.Second); err != nil {
			return fmt.Errorf("namespace %s deleted, but %w", n.Name, err)
		}
	}
	return nil
}

type linkRef struct {
	ns   *NS
	link LinkInfo
}

// outsidePeers lists the veth ends in other namespaces whose peers are in
// n; peer finds the other end of a veth.
func (n *NS) outsidePeers(peer func(*NS, LinkInfo) (*NS, LinkInfo, error)) []linkRef {
	links, err := n.Links()
	if err != nil {
		return nil
	}
	var refs []linkRef
	for _, l := range links {
		if l.Kind != "veth" || l.PeerNetnsID < 0 {
			continue
		}
		if pns, p, err := peer(n, l); err == nil && !pns.Same(n) {
			refs = append(refs, linkRef{pns, p})
		}
	}
	return refs
}

// WaitGone polls until the link has left the namespace: the kernel removes
// the links of a deleted namespace in the background.
func (n *NS) WaitGone(l LinkInfo, limit time.Duration) error {
	for start := time.Now(); time.Since(start) < limit; time.Sleep(5 * time.Millisecond) {
		now, err := n.LinkByIndex(l.Index)
		if errors.Is(err, ErrNotFound) || (err == nil && now.Name != l.Name) {
			return nil
		}
	}
	return fmt.Errorf("its peer %s in %s is still there after %s", l.Name, n, limit)
}

// placeholderCause is how a placeholder comes to be left behind.
const placeholderCause = "what a program stopped in the middle of making or deleting a namespace leaves"

// placeholder tells whether dir/name is the empty file CreateNamed makes
// to mount a new namespace on, and no namespace is mounted there: what a
// nsplay killed in the middle of making the namespace leaves.
func placeholder(dir, name string) bool {
	path := filepath.Join(dir, name)
	var st unix.Stat_t
	var fs unix.Statfs_t
	return unix.Lstat(path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == 0 &&
		unix.Statfs(path, &fs) == nil && fs.Type != unix.NSFS_MAGIC
}

// DeleteNamed removes dir/name. A name that is not there is ErrNotFound.
func DeleteNamed(dir, name string) error {
	path := filepath.Join(dir, name)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmount %s: %w", path, classify(err))
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove %s: %w", path, classify(err))
	}
	return nil
}

// PIDs lists the processes whose network namespace is n, like
// `ip netns pids`.
func (n *NS) PIDs() ([]int, error) {
	if err := n.Err(); err != nil {
		return nil, err
	}
	var self unix.Stat_t
	if err := unix.Fstat(n.Fd(), &self); err != nil {
		return nil, fmt.Errorf("stat namespace %s: %w", n, err)
	}
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(filepath.Join("/proc", d.Name(), "ns/net"), &st) == nil && st.Dev == self.Dev && st.Ino == self.Ino {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// StopProcesses ends the processes in n, by their pids: SIGTERM first, and
// SIGKILL for those still there after grace. It returns what it stopped.
func (n *NS) StopProcesses(grace time.Duration) ([]Process, error) {
	return StopProcessesIn([]*NS{n}, grace)
}

// StopProcessesIn ends the processes in all of spaces at once: one grace
// period for all, and one pass over /proc per look, however many
// namespaces there are. nsplay itself is never stopped: its threads pass
// through lab namespaces.
func StopProcessesIn(spaces []*NS, grace time.Duration) ([]Process, error) {
	if len(spaces) == 0 {
		return nil, nil // no pass over /proc for a lab without namespaces
	}
	inside, err := processesIn(spaces)
	if err != nil || len(inside) == 0 {
		return nil, err
	}
	var procs []Process
	for pid, ns := range inside {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		procs = append(procs, Process{PID: pid, Command: strings.TrimSpace(string(comm)), NS: ns.String()})
		unix.Kill(pid, unix.SIGTERM)
	}
	slices.SortFunc(procs, func(a, b Process) int { return a.PID - b.PID })
	gone := func() bool {
		inside, err = processesIn(spaces)
		return err != nil || len(inside) == 0
	}
	for _, limit := range []time.Duration{grace, time.Second} {
		if waitFor(gone, limit) {
			return procs, err
		}
		for pid := range inside {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
	return procs, fmt.Errorf("%d processes survived SIGKILL", len(inside))
}

// processesIn maps the pids of the processes whose network namespace is
// one of spaces (but nsplay's own) to that namespace.
func processesIn(spaces []*NS) (map[int]*NS, error) {
	byInode := map[uint64]*NS{}
	for _, ns := range spaces {
		byInode[ns.Inode()] = ns
	}
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	found := map[int]*NS{}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(filepath.Join("/proc", d.Name(), "ns/net"), &st) == nil {
			if ns, ok := byInode[st.Ino]; ok {
				found[pid] = ns
			}
		}
	}
	return found, nil
}

// Process is a process nsplay stopped.
type Process = model.Stopped
