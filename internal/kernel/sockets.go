package kernel

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Listening tells whether a socket in n listens on port: for "tcp" a socket
// in LISTEN state, for "udp" a bound one. It asks the kernel's socket
// diagnostics through a netlink socket in n, for IPv4 and IPv6.
func (n *NS) Listening(proto string, port int) (bool, error) {
	if err := n.Err(); err != nil {
		return false, err
	}
	var h *netlink.Handle
	err := n.In(func() (err error) {
		h, err = netlink.NewHandle(unix.NETLINK_INET_DIAG)
		return err
	})
	if h != nil {
		defer h.Close()
	}
	if err != nil {
		return false, fmt.Errorf("open a socket diagnostics socket in %s: %w", n, err)
	}
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		var socks []*netlink.Socket
		switch proto {
		case "tcp":
			socks, err = h.SocketDiagTCP(family)
		case "udp":
			socks, err = h.SocketDiagUDP(family)
		default:
			return false, fmt.Errorf("protocol %q: use \"tcp\" or \"udp\"", proto)
		}
		if err != nil {
			return false, fmt.Errorf("list %s sockets in %s: %w", proto, n, err)
		}
		for _, s := range socks {
			if int(s.ID.SourcePort) == port && (proto == "udp" || s.State == tcpListen) {
				return true, nil
			}
		}
	}
	return false, nil
}

// tcpListen is TCP_LISTEN in the kernel's socket states.
const tcpListen = 10

// Connect opens a TCP connection from inside n to addr:port and closes it
// again; the error says why it failed.
func (n *NS) Connect(addr net.IP, port int, timeout time.Duration) error {
	return n.In(func() error {
		// The socket is made here, on the thread inside n, and stays in n.
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(addr.String(), strconv.Itoa(port)), timeout)
		if err != nil {
			return err
		}
		return conn.Close()
	})
}
