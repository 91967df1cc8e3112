package kernel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ThroughputResult is what the receiver of a throughput run counted.
type ThroughputResult struct {
	Bytes   int64
	Elapsed time.Duration
}

// connectWait is how long Throughput waits for the connection to be made,
// and then for the receiver to take it.
const connectWait = 3 * time.Second

// Throughput measures how much TCP data gets from src to dst in d, as
// iperf does: a receiver listens on port (every address) in dst, a sender
// in src connects to to:port and writes for d, and the receiver counts
// what arrives in the d after it took the connection. Each socket is made
// on a thread switched into its namespace, where it stays; the data loops
// run on ordinary goroutines. Cancelling ctx ends it at once.
func Throughput(ctx context.Context, src, dst *NS, to net.IP, port int, d time.Duration) (ThroughputResult, error) {
	if d <= 0 {
		return ThroughputResult{}, fmt.Errorf("throughput for %s: give a positive duration", d)
	}
	network, wildcard := "tcp4", "0.0.0.0"
	if to.To4() == nil {
		network, wildcard = "tcp6", "::"
	}
	var ln net.Listener
	err := dst.In(func() (err error) {
		ln, err = net.Listen(network, net.JoinHostPort(wildcard, strconv.Itoa(port)))
		return err
	})
	if errors.Is(err, unix.EADDRINUSE) {
		return ThroughputResult{}, fmt.Errorf("port %d is in use in %s: pass another port= (the receiver listens there)", port, dst)
	}
	if err != nil {
		return ThroughputResult{}, fmt.Errorf("listen on port %d in %s: %w", port, dst, err)
	}
	var closers closeAll
	closers.add(ln)
	defer closers.close()
	// On cancellation every socket closes, and every loop on one ends.
	defer context.AfterFunc(ctx, closers.close)()

	accepted := make(chan net.Conn, 1)
	got := make(chan ThroughputResult, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		closers.add(conn)
		accepted <- conn
		got <- receive(conn, d)
	}()

	addr := net.JoinHostPort(to.String(), strconv.Itoa(port))
	var conn net.Conn
	dialer := net.Dialer{Timeout: connectWait}
	err = src.In(func() (err error) { conn, err = dialer.DialContext(ctx, network, addr); return err })
	if err != nil {
		if ctx.Err() != nil {
			return ThroughputResult{}, ctx.Err()
		}
		return ThroughputResult{}, connectError(src, dst, to, port, err)
	}
	closers.add(conn)
	select {
	case _, ok := <-accepted:
		if err := ctx.Err(); err != nil {
			return ThroughputResult{}, err
		}
		if !ok {
			return ThroughputResult{}, fmt.Errorf("the receiver in %s failed to take the connection", dst)
		}
	case <-time.After(connectWait):
		return ThroughputResult{}, fmt.Errorf("connected from %s to %s port %d, but not to the receiver in %s: %s is in another namespace, where something else listens on that port", src, to, port, dst, to)
	}
	send(conn, d)
	res := <-got
	return res, ctx.Err()
}

// receive counts what arrives on conn for d, then closes it, which resets
// the sender's connection and so ends its writes.
func receive(conn net.Conn, d time.Duration) ThroughputResult {
	defer conn.Close()
	start := time.Now()
	conn.SetReadDeadline(start.Add(d))
	n, _ := io.CopyBuffer(io.Discard, conn, make([]byte, 256<<10)) // ends at the deadline, or when the sender stops
	return ThroughputResult{Bytes: n, Elapsed: min(time.Since(start), d)}
}

// send writes to conn until the receiver closes it, or, should that not
// come, for a little longer than d.
func send(conn net.Conn, d time.Duration) {
	conn.SetWriteDeadline(time.Now().Add(d + connectWait))
	buf := make([]byte, 128<<10)
	for {
		if _, err := conn.Write(buf); err != nil {
			return
		}
	}
}

// connectError says why src could not connect to to:port.
func connectError(src, dst *NS, to net.IP, port int, err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, unix.ECONNREFUSED):
		return fmt.Errorf("%s port %d refused the connection from %s: the receiver listens in %s, so %s must be an address there, or lead there: %w", to, port, src, dst, to, err)
	case errors.As(err, &ne) && ne.Timeout():
		return unreachable{fmt.Errorf("no answer from %s port %d to %s within %s: %w", to, port, src, connectWait, err)}
	case errors.Is(err, unix.ENETUNREACH), errors.Is(err, unix.EHOSTUNREACH):
		return unreachable{fmt.Errorf("%s cannot reach %s port %d: %w", src, to, port, err)}
	}
	return fmt.Errorf("connect from %s to %s port %d: %w", src, to, port, err)
}

// unreachable is a connection that no answer came to; the backend adds
// why the address may not answer.
type unreachable struct{ error }

func (u unreachable) Unwrap() error { return u.error }

// closeAll closes what was added to it, once, also what is added after.
type closeAll struct {
	mu     sync.Mutex
	done   bool
	things []io.Closer
}

func (c *closeAll) add(x io.Closer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		x.Close()
		return
	}
	c.things = append(c.things, x)
}

func (c *closeAll) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done = true
	for _, x := range c.things {
		x.Close()
	}
	c.things = nil
}
