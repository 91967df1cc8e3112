package kernel_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// A sysctl is read and written inside its namespace: the host's (the
// sandbox's) stays as it was.
func TestSysctl(t *testing.T) {
	testenv.RequireRoot(t)
	ns, host := newNS(t), current(t)
	hostBefore := testenv.ProcSys(t, "", "net/ipv4/ip_forward")
	if v, err := ns.Sysctl("net.ipv4.ip_forward"); err != nil || v != "0" || testenv.ProcSys(t, ns.Name, "net/ipv4/ip_forward") != "0" {
		t.Fatalf("ip_forward in a new namespace = %q, %v", v, err)
	}
	must(t, ns.SetSysctl("net.ipv4.ip_forward", "1"))
	for path, want := range map[string]string{"net/ipv4/ip_forward": "1", "net/ipv4/conf/all/forwarding": "1", "net/ipv4/conf/lo/forwarding": "1"} {
		if got := testenv.ProcSys(t, ns.Name, path); got != want {
			t.Errorf("cat /proc/sys/%s in the namespace = %q, want %q", path, got, want)
		}
	}
	if got := testenv.ProcSys(t, "", "net/ipv4/ip_forward"); got != hostBefore {
		t.Errorf("the host's ip_forward went from %s to %s", hostBefore, got)
	}
	if v, err := host.Sysctl("net.ipv4.ip_forward"); err != nil || v != hostBefore {
		t.Errorf("host.Sysctl = %q, %v; want %q", v, err, hostBefore)
	}
	// A value with several fields reads back as the kernel prints it.
	must(t, ns.SetSysctl("net.ipv4.ip_local_port_range", "20000 30000"))
	if v, err := ns.Sysctl("net.ipv4.ip_local_port_range"); err != nil || v != "20000\t30000" {
		t.Errorf("ip_local_port_range = %q, %v", v, err)
	}
	// A key of one interface, with a dot in its name written as /.
	must(t, ns.AddVeth("e.1", "e.2", ns))
	must(t, ns.SetSysctl("net.ipv6.conf.e/1.disable_ipv6", "1"))
	if got := testenv.ProcSys(t, ns.Name, "net/ipv6/conf/e.1/disable_ipv6"); got != "1" {
		t.Errorf("disable_ipv6 of e.1 = %q", got)
	}
}

func TestSysctlErrors(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	for _, tc := range []struct {
		key, value string
		is         error
		msg        string
	}{
		{"net.ipv4.no_such_key", "1", model.ErrNotFound, "there is no sysctl net.ipv4.no_such_key in " + ns.Name},
		{"net.core.rmem_max", "1000000", nil, "net.core.rmem_max is read-only in " + ns.Name},
		{"net.ipv4.neigh.default.gc_thresh3", "4096", model.ErrNotFound, "there is no sysctl net.ipv4.neigh.default.gc_thresh3 in " + ns.Name},
		{"kernel.hostname", "x", model.ErrGlobal, `"kernel.hostname" is not per network namespace`},
		{"net.ipv4.ip_forward", "yes", nil, `net.ipv4.ip_forward in ` + ns.Name + `: the kernel does not take "yes" (invalid argument)`},
	} {
		err := ns.SetSysctl(tc.key, tc.value)
		if err == nil || !strings.Contains(err.Error(), tc.msg) || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("SetSysctl(%s, %s) = %v\nwant %q (%v)", tc.key, tc.value, err, tc.msg, tc.is)
		}
	}
	if _, err := ns.Sysctl("net.ipv4.no_such_key"); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("Sysctl of a key that is not there: %v", err)
	}
}
