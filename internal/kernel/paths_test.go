package kernel_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
	"golang.org/x/sys/unix"
)

// otherPaths returns paths of a folder of the test's own in the sandbox's
// private /run, removed when the test ends.
func otherPaths(t *testing.T) model.Paths {
	t.Helper()
	root, err := os.MkdirTemp("/run", "kernel-paths-")
	must(t, err)
	p := model.Paths{RunNetns: filepath.Join(root, "netns"), Labs: filepath.Join(root, "labs"), EtcNetns: filepath.Join(root, "etc", "netns")}
	t.Cleanup(func() {
		// The backend made its namespace folder a mount point of its own.
		unix.Unmount(p.RunNetns, unix.MNT_DETACH)
		if err := os.RemoveAll(root); err != nil {
			t.Errorf("clean up %s: %v", root, err)
		}
	})
	return p
}

// A backend with paths other than the machine's makes its named namespaces
// in its own folder, finds them and the processes in them there, and gives
// commands its own etc folder: nothing appears under the machine's
// /run/netns, and its /etc/netns is not read.
func TestBackendUsesItsPaths(t *testing.T) {
	testenv.RequireRoot(t)
	orig, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		t.Skipf("this machine has no /etc/resolv.conf to replace: %v", err)
	}
	p := otherPaths(t)
	machine := testenv.Netns(t)
	b, err := kernel.NewBackend(p)
	must(t, err)
	t.Cleanup(b.Close)
	name := uniq("kp")
	ns := model.Named(name)
	must(t, b.Apply(model.NetnsAdd{Name: name}))
	t.Cleanup(func() { b.Apply(model.NetnsDel{Name: name}) })

	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Join(p.RunNetns, name), &st); err != nil || st.Type != unix.NSFS_MAGIC {
		t.Errorf("%s is not a namespace: %v (filesystem %#x)", filepath.Join(p.RunNetns, name), err, st.Type)
	}
	if now := testenv.Netns(t); !slices.Equal(now, machine) {
		t.Errorf("ip netns list shows %v, was %v: the namespace went to the machine's folder", now, machine)
	}
	if names, err := b.NamedList(); err != nil || !slices.Equal(names, []string{name}) {
		t.Errorf("NamedList = %v, %v; want [%s], the names in %s", names, err, name, p.RunNetns)
	}
	if _, err := b.Identity(ns); err != nil {
		t.Errorf("Identity of %s: %v", name, err)
	}

	// The machine's /etc/netns has a folder of that name too (the
	// sandbox's overlay): commands must not see it.
	testenv.UseEtcNetns(t, name)
	dir := filepath.Join(p.EtcNetns, name)
	must(t, os.MkdirAll(dir, 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte("nameserver 192.0.2.99\n"), 0o644))
	res, err := b.Exec(context.Background(), model.ExecSpec{NS: ns, Argv: []string{"cat", "/etc/resolv.conf"}})
	if err != nil || res.RC != 0 || res.Stdout != "nameserver 192.0.2.99\n" {
		t.Errorf("cat /etc/resolv.conf in %s = %+v, %v; want the file in %s (the machine's is %q)", name, res, err, dir, orig)
	}

	proc, err := b.Start(model.ExecSpec{NS: ns, Argv: []string{"sleep", "30"}})
	must(t, err)
	t.Cleanup(func() { proc.Stop(time.Second) })
	if got, err := b.Identify(proc.PID()); err != nil || got != name {
		t.Errorf("Identify of a process in %s = %q, %v", name, got, err)
	}
	proc.Stop(time.Second)

	must(t, b.Apply(model.NetnsDel{Name: name}))
	if _, err := os.Lstat(filepath.Join(p.RunNetns, name)); !os.IsNotExist(err) {
		t.Errorf("%s is still there after the namespace was deleted: %v", filepath.Join(p.RunNetns, name), err)
	}
}

// A namespace named in another folder is known by that folder: opened by
// path there it has its name, and once that name is gone, its handle says
// so with the path in that folder.
func TestNamedNamespaceInAnotherFolder(t *testing.T) {
	testenv.RequireRoot(t)
	dir := otherPaths(t).RunNetns
	name := uniq("kf")
	ns, err := kernel.CreateNamed(dir, name)
	must(t, err)
	t.Cleanup(func() {
		ns.Close()
		if err := kernel.DeleteNamed(dir, name); err != nil && !errors.Is(err, kernel.ErrNotFound) {
			t.Errorf("clean up namespace %s: %v", name, err)
		}
	})
	path := filepath.Join(dir, name)
	if ns.Path != path || !kernel.NamedExists(dir, name) || kernel.NamedExists(paths.RunNetns, name) {
		t.Errorf("CreateNamed(%s, %s): Path %s, in %s: %v, in %s: %v", dir, name, ns.Path,
			dir, kernel.NamedExists(dir, name), paths.RunNetns, kernel.NamedExists(paths.RunNetns, name))
	}
	if names, err := kernel.NamedList(dir); err != nil || !slices.Equal(names, []string{name}) {
		t.Errorf("NamedList(%s) = %v, %v; want [%s]", dir, names, err, name)
	}
	byPath, err := kernel.Open(dir, path)
	must(t, err)
	defer byPath.Close()
	if byPath.Name != name || !byPath.Same(ns) {
		t.Errorf("Open(%s, %s): Name %q, same: %v", dir, path, byPath.Name, byPath.Same(ns))
	}
	if other, err := kernel.Open(paths.RunNetns, path); err != nil || other.Name != "" {
		t.Errorf("Open(%s, %s) = %v, %v; want a namespace without a name", paths.RunNetns, path, other, err)
	} else {
		other.Close()
	}

	must(t, kernel.DeleteNamed(dir, name))
	err = ns.Err()
	if !errors.Is(err, kernel.ErrGone) {
		t.Fatalf("Err after DeleteNamed = %v, want ErrGone", err)
	}
	wantErrContains(t, err, path+" no longer names it")
}
