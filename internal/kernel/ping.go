package kernel

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// PingResult counts the echo requests sent and the replies received.
type PingResult struct {
	Sent, Received int
	RTTs           []time.Duration // one per reply, in order
}

// Ping sends count ICMP echo requests to dst from inside n, one at a time,
// waiting up to timeout for each reply. It opens a raw ICMP socket inside
// the namespace and does the rest from any thread. It stops early when ctx
// is cancelled.
func (n *NS) Ping(ctx context.Context, dst net.IP, count int, timeout time.Duration) (PingResult, error) {
	conn, proto, echo, err := n.icmpSocket(dst)
	if err != nil {
		return PingResult{}, err
	}
	defer conn.Close()

	id := rand.IntN(0xffff)
	var res PingResult
	buf := make([]byte, 1500)
	for seq := 1; seq <= count && ctx.Err() == nil; seq++ {
		start := time.Now()
		sent, err := sendEcho(conn, echo, dst, id, seq)
		if err != nil {
			return res, err
		}
		res.Sent++
		if !sent {
			continue // lost
		}
		deadline := start.Add(timeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		if err := conn.SetReadDeadline(deadline); err != nil {
			return res, err
		}
		if _, ok := waitReply(conn, buf, proto, dst, id, seq, seq); ok {
			res.Received++
			res.RTTs = append(res.RTTs, time.Since(start))
		}
	}
	return res, nil
}

// icmpSocket opens a raw ICMP socket inside n for echoes to dst (IPv4 or
// IPv6: a socket stays in the namespace it was made in, so the rest can be
// done from any thread), with the protocol number to parse replies by and
// the type of an echo request.
func (n *NS) icmpSocket(dst net.IP) (*icmp.PacketConn, int, icmp.Type, error) {
	network, listen, proto, echo := "ip4:icmp", "0.0.0.0", 1, icmp.Type(ipv4.ICMPTypeEcho)
	if dst.To4() == nil {
		network, listen, proto, echo = "ip6:ipv6-icmp", "::", 58, ipv6.ICMPTypeEchoRequest
	}
	var conn *icmp.PacketConn
	err := n.In(func() (err error) {
		conn, err = icmp.ListenPacket(network, listen)
		return err
	})
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		return nil, 0, nil, fmt.Errorf("open ICMP socket in %s: %w", n, err)
	}
	return conn, proto, echo, nil
}

// sendEcho sends echo request (id, seq) to dst. It reports false when the
// kernel refuses at once, as it does without a route: the request is lost.
func sendEcho(conn *icmp.PacketConn, echo icmp.Type, dst net.IP, id, seq int) (bool, error) {
	msg := icmp.Message{Type: echo, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("nsplay")}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return false, err
	}
	_, err = conn.WriteTo(b, &net.IPAddr{IP: dst})
	return err == nil, nil
}

// waitReply reads until an echo reply from dst to id and a sequence number
// from first to last arrives, and returns that number, or until the read
// deadline passes. A raw socket sees every ICMP packet of the namespace,
// so everything else is skipped.
func waitReply(conn *icmp.PacketConn, buf []byte, proto int, dst net.IP, id, first, last int) (int, bool) {
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return 0, false // deadline passed (os.ErrDeadlineExceeded) or the socket failed
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || (m.Type != ipv4.ICMPTypeEchoReply && m.Type != ipv6.ICMPTypeEchoReply) {
			continue
		}
		e, ok := m.Body.(*icmp.Echo)
		if ok && e.ID == id && e.Seq >= first && e.Seq <= last && from.(*net.IPAddr).IP.Equal(dst) {
			return e.Seq, true
		}
	}
}
