package kernel_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/testenv"
	"golang.org/x/sys/unix"
)

// TestNoThreadLeftInLabNamespace checks that every call of the package
// that moves a thread into a namespace (creating and opening namespaces,
// In, ping, listening, connect, STP, monitor, DAD, and starting commands
// in a namespace, with fresh namespaces and in another process's) leaves
// no OS thread of the process in any namespace but the process's own: Go
// schedules any goroutine on any thread, so a thread left behind would
// make later netlink and socket calls land in the wrong namespace.
func TestNoThreadLeftInLabNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	if stray := testenv.ThreadsAway(t); len(stray) > 0 {
		t.Fatalf("threads outside the process's namespaces before the test: %v", stray)
	}

	// The observer works: a thread parked in a lab namespace is found.
	p := newConnected(t)
	parked, release, back := make(chan error), make(chan struct{}), make(chan error)
	park := func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			parked <- err
			return
		}
		defer orig.Close()
		parked <- unix.Setns(p.A.Fd(), unix.CLONE_NEWNET)
		<-release
		back <- unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET)
	}
	// Not on the main thread: its namespaces are the process's, which
	// ThreadsAway compares the others with.
	kernel.GoLockedOffMain(park)
	must(t, <-parked)
	stray := testenv.ThreadsAway(t)
	close(release)
	must(t, <-back)
	if len(stray) != 1 {
		t.Fatalf("with one thread parked in %s, ThreadsAway found %v", p.A, stray)
	}

	// DAD of an IPv6 address reads the namespace's settings from inside.
	must(t, p.A.AddAddr(p.va, cidr(t, "fd00:7::1/64")))
	dad := make(chan error, 1)
	go func() {
		_, err := p.A.AwaitDAD(p.va, net.ParseIP("fd00:7::1"))
		dad <- err
	}()

	// Now the real work, from many goroutines at once so that many threads
	// take part.
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	report := func(what string, err error) {
		if err != nil {
			errs <- fmt.Errorf("%s: %w", what, err)
		}
	}
	fresh := [][]string{nil, {"user"}, {"pid"}, {"user", "pid"}, {"net"}, {"uts", "ipc"}}
	for i := range 8 {
		wg.Go(func() {
			ns, err := kernel.CreateNamed(paths.RunNetns, uniq("thr"))
			if err != nil {
				report("create", err)
				return
			}
			defer ns.Delete(nil)
			want, err := inode(ns.Path)
			report("stat", err)
			for range 20 {
				report("In", ns.In(func() error {
					if got, err := inode("/proc/thread-self/ns/net"); err != nil || got != want {
						return errors.New("fn ran outside the namespace: " + errString(err))
					}
					return nil
				}))
			}
			res, err := p.A.Ping(context.Background(), net.ParseIP("10.0.0.2"), 2, time.Second)
			if err == nil && res.Received != 2 {
				err = fmt.Errorf("%d of 2 replies", res.Received)
			}
			report("ping", err)
			again, err := kernel.OpenNamed(paths.RunNetns, ns.Name)
			report("open", err)
			if err == nil {
				again.Close()
			}
			_, err = p.A.Listening("tcp", 1)
			report("listening", err)
			if err := p.A.Connect(net.ParseIP("10.0.0.2"), 1, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
				report("connect", fmt.Errorf("%v, want connection refused", err))
			}
			br := uniq("tbr")
			report("bridge", ns.AddBridge(br, 0))
			report("set stp", ns.SetSTP(br, true))
			if on, err := ns.STP(br); err != nil || !on {
				report("stp", fmt.Errorf("%v, %v; want true", on, err))
			}
			m, err := ns.Monitor(func(kernel.Change) {}, true)
			report("monitor", err)
			if err == nil {
				m.Close()
			}
			new := fresh[i%len(fresh)]
			proc, err := kernel.Start(kernel.ExecSpec{NS: ns, New: new, Argv: []string{"sleep", "30"}, Env: os.Environ()})
			report(fmt.Sprintf("start with fresh %v", new), err)
			if err != nil {
				return
			}
			defer proc.Stop(time.Second)
			join := kernel.ExecSpec{JoinPID: proc.PID(), Argv: []string{"true"}, Env: os.Environ()}
			if len(new) > 0 && new[0] == "user" {
				join.New = []string{"user"}
			}
			_, err = kernel.Exec(context.Background(), join)
			report(fmt.Sprintf("join a process with fresh %v", new), err)
			_, err = kernel.Exec(context.Background(), kernel.ExecSpec{NS: ns, Hostname: "thr", Argv: []string{"true"}, Env: os.Environ()})
			report("exec", err)
		})
	}
	wg.Wait()
	report("DAD", <-dad)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if stray := testenv.ThreadsAway(t); len(stray) > 0 {
		t.Errorf("threads left outside the process's namespaces (tid kind:[inode]): %v", stray)
	}
}

// No switch runs on the main thread, though nothing keeps other goroutines
// off it: the runtime could not discard it, and its namespaces are the
// ones /proc/PID/ns shows for the whole process.
func TestSwitchNeverOnTheMainThread(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	main := os.Getpid() // the main thread's tid is the process's pid
	var mu sync.Mutex
	seen := map[int]bool{}
	var wg sync.WaitGroup
	for range 4 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for range 200 {
				err := ns.In(func() error {
					mu.Lock()
					seen[unix.Gettid()] = true
					mu.Unlock()
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				runtime.Gosched()
			}
		})
	}
	wg.Wait()
	if seen[main] {
		t.Errorf("a switch ran on the main thread %d (threads that switched: %d)", main, len(seen))
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", main)); err != nil {
		t.Errorf("the main thread is gone: %v", err)
	}
	if stray := testenv.ThreadsAway(t); len(stray) > 0 {
		t.Errorf("threads left outside the process's namespaces: %v", stray)
	}
}

// dropSysAdmin takes CAP_SYS_ADMIN out of the calling thread's effective
// capabilities, which, like namespaces, belong to the thread: without it
// the thread cannot enter a namespace, not even its own again.
func dropSysAdmin() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	data[unix.CAP_SYS_ADMIN/32].Effective &^= 1 << (unix.CAP_SYS_ADMIN % 32)
	return unix.Capset(&hdr, &data[0])
}

// A thread that cannot return to nsplay's namespaces is discarded, not
// given back to the runtime for other goroutines; the error says so, and
// the next switch works.
func TestFailedReturnDiscardsTheThread(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	var tid int
	err := ns.In(func() error {
		tid = unix.Gettid()
		return dropSysAdmin()
	})
	wantErrContains(t, err, "return the thread to nsplay's net namespace", "operation not permitted")
	task := fmt.Sprintf("/proc/self/task/%d", tid)
	if !eventually(2*time.Second, func() bool { _, err := os.Stat(task); return errors.Is(err, fs.ErrNotExist) }) {
		t.Errorf("thread %d, stuck in %s, still runs", tid, ns)
	}
	if stray := testenv.ThreadsAway(t); len(stray) > 0 {
		t.Errorf("threads left outside the process's namespaces: %v", stray)
	}
	want, err := inode(ns.Path)
	must(t, err)
	must(t, ns.In(func() error {
		if got, err := inode("/proc/thread-self/ns/net"); err != nil || got != want {
			return errors.New("the next In ran outside the namespace: " + errString(err))
		}
		return nil
	}))
}

// Commands live on while threads are discarded: the kernel sends a
// command its parent-death signal when the thread that forked it ends, and
// that thread waits for the command, locked, where no switch can take it.
func TestCommandsOutliveDiscardedThreads(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	ns := newNS(t)
	fresh := [][]string{nil, {"user"}, {"pid"}, {"user", "pid"}}
	var procs []*kernel.Proc
	for i := range 3 * len(fresh) {
		procs = append(procs, startProc(t, kernel.ExecSpec{NS: ns, New: fresh[i%len(fresh)], Argv: []string{"sleep", "30"}}))
	}
	// Each switch that cannot return discards a thread, the one that
	// forked a command if it could; many at once take many threads.
	var wg sync.WaitGroup
	for range 4 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for range 10 {
				if err := ns.In(dropSysAdmin); err == nil {
					t.Error("In returned no error for a thread that cannot return")
				}
			}
		})
	}
	wg.Wait()
	time.Sleep(100 * time.Millisecond)
	for i, p := range procs {
		if !p.Alive() {
			res, _ := p.Wait(context.Background(), 0)
			t.Errorf("command %d (fresh %v) ended: %+v", p.PID(), fresh[i%len(fresh)], res)
		}
	}
}
