package testenv

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
)

// What UseMachine makes is named so that no playbook of the repository
// clashes with it.
const (
	UsedNetns   = "used1"     // a namespace made by `ip netns add`
	UsedKeptLab = "used-kept" // a lab another run kept
)

// UseEtcNetns makes /etc/netns exist, root's, as it is on a machine where
// `ip netns` has been used, and puts in it a folder with a resolv.conf for
// each name given, as other tools do for their namespaces. What it made
// goes when the test ends.
func UseEtcNetns(t testing.TB, names ...string) {
	t.Helper()
	if err := os.Mkdir(model.DefaultPaths.EtcNetns, 0o755); err == nil {
		t.Cleanup(func() { os.Remove(model.DefaultPaths.EtcNetns) })
	} else if !errors.Is(err, fs.ErrExist) {
		t.Fatal(err)
	}
	for _, name := range names {
		dir := filepath.Join(model.DefaultPaths.EtcNetns, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte("nameserver 192.0.2.53\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// UseMachine makes the test's machine look like one used by other tools
// and runs: /etc/netns with the folder of UsedNetns; that namespace, made
// by `ip netns add`, with a process in it; a bridge with an address and a
// veth pair made by `ip link add`, one end on the bridge and the other in
// UsedNetns; and UsedKeptLab, a kept lab with a namespace and a file in
// /etc/netns. Everything goes when the test ends.
func UseMachine(t testing.TB) {
	t.Helper()
	UseEtcNetns(t, UsedNetns)
	IP(t, "netns", "add", UsedNetns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", UsedNetns).Run() })

	proc := exec.Command("ip", "netns", "exec", UsedNetns, "sleep", "3600")
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proc.Process.Kill(); proc.Wait() })

	IP(t, "link", "add", "usedbr0", "type", "bridge")
	t.Cleanup(func() { exec.Command("ip", "link", "del", "usedbr0").Run() })
	IP(t, "link", "add", "usedv0", "type", "veth", "peer", "name", "usedv1", "netns", UsedNetns)
	t.Cleanup(func() { exec.Command("ip", "link", "del", "usedv0").Run() })
	IP(t, "link", "set", "usedv0", "master", "usedbr0", "up")
	IP(t, "addr", "add", "198.51.100.1/24", "dev", "usedbr0")
	IP(t, "link", "set", "usedbr0", "up")

	keepLab(t)
}

// keepLab builds UsedKeptLab as a run with --keep would leave it.
func keepLab(t testing.TB) {
	t.Helper()
	b, err := kernel.NewBackend(model.DefaultPaths)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	l, err := lab.Open(UsedKeptLab, b, model.DefaultPaths, UsedKeptLab+".star")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lab.Down(UsedKeptLab, b, model.DefaultPaths, func(string) {}); err != nil {
			t.Errorf("take down %s: %v", UsedKeptLab, err)
		}
	})
	_, err = l.Do(model.NetnsAdd{Name: "usedk1"})
	if err == nil {
		_, err = l.Do(model.FileWrite{Path: filepath.Join(model.DefaultPaths.EtcNetns, "usedk1", "resolv.conf"), Data: "nameserver 192.0.2.54\n"})
	}
	if err == nil {
		err = l.Keep()
	}
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
}
