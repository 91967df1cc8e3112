package kernel

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// Every namespace switch of nsplay goes through nsSwitch.run. A namespace
// belongs to an OS thread, not to a goroutine, and Go runs any goroutine on
// any thread: a thread left in a lab namespace would make later netlink
// and socket calls of whatever goroutine lands on it reach that namespace.
// So a switch happens on a fresh goroutine, locked to its thread for the
// switch, and never on the main thread: the runtime ends a thread whose
// goroutine exits while locked, which is how a thread that cannot go back
// is discarded, but it cannot end the main thread, and the main thread's
// namespaces are the ones /proc/PID/ns shows for the whole process.
//
// The calls of the netlink package that take a namespace (NewHandleAt,
// GetNetlinkSocketAt, SubscribeAt) switch the calling thread themselves
// and ignore a failed switch back. nsplay makes its netlink sockets inside
// a switch instead, with the calls that take no namespace (or
// netns.None()), which do not switch: a socket stays in the namespace it
// was made in.

// An nsSwitch moves the calling thread into other namespaces.
type nsSwitch struct {
	// kinds are the namespace kinds enter moves the thread in, as named
	// under /proc/PID/ns ("pid" for the namespace of the thread's
	// children).
	kinds []string
	enter func() error
	// discard ends the thread after the switch, back or not: fn leaves
	// it in namespaces the switch does not undo (a private mount
	// namespace a command is forked in).
	discard bool
}

// netSwitch enters the network namespace open on fd, found at path.
func netSwitch(fd int, path string) nsSwitch {
	return nsSwitch{kinds: []string{"net"}, enter: func() error {
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("enter namespace %s: %w", path, err)
		}
		return nil
	}}
}

// newNetSwitch enters a new network namespace.
var newNetSwitch = nsSwitch{kinds: []string{"net"}, enter: func() error {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("unshare network namespace: %w", err)
	}
	return nil
}}

// run runs fn on a thread that enter has moved, moves the thread back to
// nsplay's namespaces, and returns what went wrong. Only what fn does
// directly happens in the namespaces: goroutines it starts do not.
func (s nsSwitch) run(fn func() error) error { return s.runThen(fn, nil) }

// runThen is run that goes on, once fn has succeeded and the thread is
// back, to run then on the same goroutine, still locked to the thread,
// while the caller goes on. Start waits for a command there: the kernel
// sends a command its parent-death signal when the thread that forked it
// ends, and a locked thread runs nothing else, so no later switch can
// discard it while the command runs.
func (s nsSwitch) runThen(fn func() error, then func()) error {
	errc := make(chan error, 1)
	goLockedOffMain(func() {
		back, err := s.switched(fn)
		errc <- err
		if err == nil && then != nil {
			then()
		}
		if back && !s.discard {
			runtime.UnlockOSThread()
		}
		// Else the goroutine ends locked, and the runtime ends the thread.
	})
	return <-errc
}

// switched moves the calling, locked thread with enter, runs fn, and moves
// the thread back. back tells whether the thread is back for certain: the
// switch back succeeded, and /proc shows the thread in nsplay's namespaces.
func (s nsSwitch) switched(fn func() error) (back bool, err error) {
	homes := make([]home, len(s.kinds))
	for i, kind := range s.kinds {
		if homes[i], err = homeOf(kind); err != nil {
			return true, err // nothing moved yet
		}
	}
	err = s.enter()
	if err == nil {
		err = fn()
	}
	// Back in the reverse order, also after enter failed half-way: a
	// thread may always enter the namespace it is in.
	for i := len(homes) - 1; i >= 0; i-- {
		if serr := unix.Setns(homes[i].fd, 0); serr != nil {
			return false, errors.Join(err, fmt.Errorf("return the thread to nsplay's %s namespace: %w", s.kinds[i], serr))
		}
	}
	for i, h := range homes {
		var st unix.Stat_t
		serr := unix.Stat("/proc/thread-self/ns/"+nsFile(s.kinds[i]), &st)
		if serr == nil && (st.Dev != h.dev || st.Ino != h.ino) {
			serr = fmt.Errorf("it is in namespace %d, nsplay's is %d", st.Ino, h.ino)
		}
		if serr != nil {
			return false, errors.Join(err, fmt.Errorf("check that the thread is back in nsplay's %s namespace: %w", s.kinds[i], serr))
		}
	}
	return true, err
}

// nsFile is the name under /proc/PID/ns of a thread's namespace of kind:
// for "pid", the one its children get (ns/pid stays the one the thread
// itself is in).
func nsFile(kind string) string {
	if kind == "pid" {
		return "pid_for_children"
	}
	return kind
}

// A home is one of nsplay's own namespaces, where a thread returns to.
type home struct {
	fd       int
	dev, ino uint64
}

// homeByKind holds nsplay's namespaces: those of the main thread, which no
// switch ever moves. Each is opened on first use and stays open.
var homeByKind sync.Map // kind -> home

// homeOf is nsplay's namespace of kind.
func homeOf(kind string) (home, error) {
	if h, ok := homeByKind.Load(kind); ok {
		return h.(home), nil
	}
	fd, err := unix.Open("/proc/self/ns/"+nsFile(kind), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return home{}, fmt.Errorf("open nsplay's own %s namespace: %w", kind, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return home{}, fmt.Errorf("stat nsplay's own %s namespace: %w", kind, err)
	}
	h, loaded := homeByKind.LoadOrStore(kind, home{fd: fd, dev: st.Dev, ino: st.Ino})
	if loaded {
		unix.Close(fd) // another goroutine was first
	}
	return h.(home), nil
}

// goLockedOffMain runs work on a fresh goroutine locked to an OS thread
// that is not the main thread; work unlocks it, or ends locked to have the
// thread discarded. Nothing keeps other goroutines off the main thread, so
// a fresh one may land there: it then holds the main thread, so that a
// second one cannot, until the second has locked a thread of its own.
func goLockedOffMain(work func()) {
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() != unix.Getpid() {
			work()
			return
		}
		locked := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(locked)
			work()
		}()
		<-locked
		runtime.UnlockOSThread()
	}()
}
