package kernel

import (
	"context"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/nsplay/nsplay/internal/model"
)

// EchoWorkers bounds how many echoes EchoAll has in flight. Each holds a
// raw ICMP socket, which receives a copy of every ICMP packet of its
// namespace, and a goroutine parked on it; a namespace switch to open one
// takes a thread for microseconds. Waiting is what a batch spends its
// time on when pairs fail (each waits its timeout), so the bound is high
// enough that a star of 1000 hosts whose bridge is down is told in a few
// timeouts, and low enough that 256 sockets in one namespace (a host
// checking all its peers) copy each reply at most 256 times.
const EchoWorkers = 256

// echoAttempts are how long the echo requests of a pair are waited for
// before the next is sent: soon at first, as a request sent just after a
// link came up may be dropped (the kernel starts a link's queue only once
// its link watch has seen the carrier, up to a second later), then every
// half second, so that a cancelled run is answered between two attempts.
// A reply to any request sent before counts: a slow one is not lost.
var echoAttempts = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 500 * time.Millisecond}

// EchoAll sends the echoes from their namespaces, EchoWorkers at a time,
// each until one is answered or timeout passes. The namespaces are opened
// first, one after the other (the backend is not safe for concurrent
// use); the echoes run on *NS only. An error opening a namespace or a
// socket stops the batch.
func (b *Backend) EchoAll(ctx context.Context, echoes []model.Echo, timeout time.Duration) ([]model.EchoResult, error) {
	from := make([]*NS, len(echoes))
	for i, e := range echoes {
		ns, err := b.NS(e.From)
		if err != nil {
			return nil, err
		}
		from[i] = ns
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	out := make([]model.EchoResult, len(echoes))
	next := make(chan int)
	var wg sync.WaitGroup
	// ICMP ids of the batch are consecutive from a random one, so that
	// the sockets of one namespace tell their replies apart.
	id := rand.IntN(0x10000)
	for range min(EchoWorkers, len(echoes)) {
		wg.Go(func() {
			for i := range next {
				rtt, ok, err := from[i].EchoUntil(ctx, echoes[i].To, (id+i)&0xffff, timeout)
				if err != nil {
					cancel(err)
				}
				out[i] = model.EchoResult{Answered: ok, RTT: rtt, Known: true}
			}
		})
	}
feed:
	for i := range echoes {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// EchoUntil sends echo requests with ICMP id to dst from inside n, one
// an attempt (echoAttempts), until one is answered, timeout passes or ctx
// is cancelled, and returns the round trip of the one answered. A request
// the kernel refuses at once (no route) is lost: the attempt is waited out
// all the same, as the kernel may have a route by the next.
func (n *NS) EchoUntil(ctx context.Context, dst net.IP, id int, timeout time.Duration) (time.Duration, bool, error) {
	conn, proto, echo, err := n.icmpSocket(dst)
	if err != nil {
		return 0, false, err
	}
	defer conn.Close()
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 1500)
	var sent []time.Time // by sequence number - 1
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(deadline) {
			break
		}
		end := now.Add(echoAttempts[min(len(sent), len(echoAttempts)-1)])
		if deadline.Before(end) {
			end = deadline
		}
		sent = append(sent, now)
		ok, err := sendEcho(conn, echo, dst, id, len(sent))
		if err != nil {
			return 0, false, err
		}
		if !ok {
			select {
			case <-ctx.Done():
			case <-time.After(time.Until(end)):
			}
			continue
		}
		if err := conn.SetReadDeadline(end); err != nil {
			return 0, false, err
		}
		if seq, ok := waitReply(conn, buf, proto, dst, id, 1, len(sent)); ok {
			return time.Since(sent[seq-1]), true, nil
		}
	}
	return 0, false, nil
}
