package kernel_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/testenv"
)

// listenIn opens a listener of the test inside ns (the socket is made on a
// thread in ns, and stays there); it is closed when the test ends.
func listenIn(t *testing.T, ns *kernel.NS, network, addr string) (net.Listener, int) {
	t.Helper()
	var l net.Listener
	must(t, ns.In(func() (err error) { l, err = net.Listen(network, addr); return err }))
	t.Cleanup(func() { l.Close() })
	return l, l.Addr().(*net.TCPAddr).Port
}

// udpIn binds a UDP socket of the test inside ns.
func udpIn(t *testing.T, ns *kernel.NS, network, addr string) (net.PacketConn, int) {
	t.Helper()
	var c net.PacketConn
	must(t, ns.In(func() (err error) { c, err = net.ListenPacket(network, addr); return err }))
	t.Cleanup(func() { c.Close() })
	return c, c.LocalAddr().(*net.UDPAddr).Port
}

// ss runs `ip netns exec NS ss -H args` and returns the local address:port
// column.
func ss(t *testing.T, ns *kernel.NS, args string) []string {
	t.Helper()
	out := testenv.IP(t, "netns", "exec", ns.Name, "ss", "-H", args)
	var local []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) >= 4 {
			local = append(local, f[3])
		}
	}
	return local
}

func listening(t *testing.T, ns *kernel.NS, proto string, port int) bool {
	t.Helper()
	ok, err := ns.Listening(proto, port)
	if err != nil {
		t.Fatalf("Listening(%s, %d) in %s: %v", proto, port, ns, err)
	}
	return ok
}

// Listening sees TCP listeners and bound UDP sockets in the namespace,
// IPv4 and IPv6, as ss does, and nothing of other namespaces.
func TestListening(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	must(t, ns.SetUp("lo"))
	host := current(t)

	l4, tcp4 := listenIn(t, ns, "tcp4", "127.0.0.1:0")
	_, tcp6 := listenIn(t, ns, "tcp6", "[::1]:0")
	_, udp4 := udpIn(t, ns, "udp4", "127.0.0.1:0")
	_, udp6 := udpIn(t, ns, "udp6", "[::1]:0")
	tcpPorts := map[int]bool{tcp4: true, tcp6: true}
	udpPorts := map[int]bool{udp4: true, udp6: true}

	for _, port := range []int{tcp4, tcp6} {
		if !listening(t, ns, "tcp", port) {
			t.Errorf("Listening(tcp, %d) = false with a TCP listener on it", port)
		}
		if !udpPorts[port] && listening(t, ns, "udp", port) {
			t.Errorf("Listening(udp, %d) = true for a TCP port", port)
		}
		if listening(t, host, "tcp", port) {
			t.Errorf("Listening(tcp, %d) in the test's namespace = true; the listener is in %s", port, ns)
		}
	}
	for _, port := range []int{udp4, udp6} {
		if !listening(t, ns, "udp", port) {
			t.Errorf("Listening(udp, %d) = false with a bound UDP socket on it", port)
		}
		if !tcpPorts[port] && listening(t, ns, "tcp", port) {
			t.Errorf("Listening(tcp, %d) = true for a UDP port", port)
		}
	}
	if tcps := ss(t, ns, "-ltn"); !slices.Contains(tcps, fmt.Sprintf("127.0.0.1:%d", tcp4)) || !slices.Contains(tcps, fmt.Sprintf("[::1]:%d", tcp6)) {
		t.Errorf("ss -ltn in %s = %v, want ports %d and %d", ns, tcps, tcp4, tcp6)
	}
	if udps := ss(t, ns, "-lun"); !slices.Contains(udps, fmt.Sprintf("127.0.0.1:%d", udp4)) || !slices.Contains(udps, fmt.Sprintf("[::1]:%d", udp6)) {
		t.Errorf("ss -lun in %s = %v, want ports %d and %d", ns, udps, udp4, udp6)
	}

	// An established connection's local port is not listened on.
	var conn net.Conn
	must(t, ns.In(func() (err error) { conn, err = net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", tcp4)); return err }))
	defer conn.Close()
	local := conn.LocalAddr().(*net.TCPAddr).Port
	if !tcpPorts[local] && listening(t, ns, "tcp", local) {
		t.Errorf("Listening(tcp, %d) = true for the local port of a connection", local)
	}

	// Nothing there.
	if listening(t, ns, "tcp", 9) || listening(t, ns, "udp", 9) {
		t.Errorf("Listening on port 9, where nothing listens, = true")
	}
	l4.Close()
	if listening(t, ns, "tcp", tcp4) {
		t.Errorf("Listening(tcp, %d) = true after the listener was closed", tcp4)
	}
	if tcps := ss(t, ns, "-ltn"); slices.Contains(tcps, fmt.Sprintf("127.0.0.1:%d", tcp4)) {
		t.Errorf("ss -ltn still shows port %d: %v", tcp4, tcps)
	}

	for _, proto := range []string{"sctp", "TCP", ""} {
		_, err := ns.Listening(proto, 80)
		wantErrContains(t, err, strconv.Quote(proto), `"tcp" or "udp"`)
	}
}

// A listener of another program (perl), as a playbook starts one.
func TestListeningToAProcess(t *testing.T) {
	testenv.RequireRoot(t)
	noNewProcesses(t)
	ns := newNS(t)
	must(t, ns.SetUp("lo"))
	const port = 18080
	p := startProc(t, kernel.ExecSpec{NS: ns, Argv: []string{"perl", "-MIO::Socket::INET", "-e",
		fmt.Sprintf(`my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => %d, Listen => 5) or die $!; sleep 30`, port)}})
	if !eventually(5*time.Second, func() bool { return listening(t, ns, "tcp", port) }) {
		res, _ := p.Wait(context.Background(), time.Millisecond)
		t.Fatalf("Listening(tcp, %d) never became true; perl: %+v", port, res)
	}
	if tcps := ss(t, ns, "-ltn"); !slices.Contains(tcps, fmt.Sprintf("127.0.0.1:%d", port)) {
		t.Errorf("ss -ltn = %v, want port %d", tcps, port)
	}
	if err := ns.Connect(net.ParseIP("127.0.0.1"), port, time.Second); err != nil {
		t.Errorf("Connect to perl's listener: %v", err)
	}
	p.Stop(time.Second)
	if listening(t, ns, "tcp", port) {
		t.Errorf("Listening(tcp, %d) = true after perl ended", port)
	}
}

// Connect connects from inside the namespace: a listener on 127.0.0.1 in
// another namespace is not reachable, and the error says why.
func TestConnect(t *testing.T) {
	testenv.RequireRoot(t)
	p := newConnected(t)
	host := current(t)
	_, onA := listenIn(t, p.A, "tcp4", "127.0.0.1:0")
	_, on6 := listenIn(t, p.A, "tcp6", "[::1]:0")
	_, onB := listenIn(t, p.B, "tcp4", "10.0.0.2:0")
	lo, lo6 := net.ParseIP("127.0.0.1"), net.ParseIP("::1")

	if err := p.A.Connect(lo, onA, time.Second); err != nil {
		t.Errorf("Connect in %s to its own listener 127.0.0.1:%d: %v", p.A, onA, err)
	}
	if err := p.A.Connect(lo6, on6, time.Second); err != nil {
		t.Errorf("Connect in %s to its own listener [::1]:%d: %v", p.A, on6, err)
	}
	if err := p.A.Connect(net.ParseIP("10.0.0.2"), onB, time.Second); err != nil {
		t.Errorf("Connect from %s to %s's listener 10.0.0.2:%d over the veth: %v", p.A, p.B, onB, err)
	}
	// The same address in another namespace is another loopback.
	for _, other := range []*kernel.NS{p.B, host} {
		err := other.Connect(lo, onA, time.Second)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("Connect in %s to 127.0.0.1:%d (listened on in %s only): %v, want connection refused", other, onA, p.A, err)
		}
	}
	// No route: fails at once.
	began := time.Now()
	err := p.A.Connect(net.ParseIP("192.0.2.1"), 80, 5*time.Second)
	if !errors.Is(err, syscall.ENETUNREACH) || time.Since(began) > 2*time.Second {
		t.Errorf("Connect without a route: %v after %s, want network unreachable at once", err, time.Since(began))
	}
	// Nobody answers on the link: the timeout ends the attempt.
	began = time.Now()
	err = p.A.Connect(net.ParseIP("10.0.0.3"), 80, 300*time.Millisecond)
	var nerr net.Error
	if took := time.Since(began); !errors.As(err, &nerr) || !nerr.Timeout() || took < 300*time.Millisecond || took > 2*time.Second {
		t.Errorf("Connect to nobody with a 300ms timeout: %v after %s, want a timeout after 300ms", err, took)
	}
	if stray := testenv.ThreadsAway(t); len(stray) > 0 {
		t.Errorf("threads left outside the start namespace: %v", stray)
	}
}
