package builtins

//	ping(ns, dst, count=1, timeout="1s") -> struct(sent, received, rtt_ms)
//	    sends ICMP echo requests from inside ns (no ping binary); timeout is per
//	    request; rtt_ms is the mean round trip of the replies, None without any

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/nsplay/nsplay/internal/model"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

func pingFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var nsA nsArg
	var dst string
	count := 1
	timeout := "1s"
	if err := unpack(b.Name(), args, kwargs, 2, "ns", &nsA, "dst", &dst, "count?", countRange.of(&count), "timeout?", &timeout); err != nil {
		return nil, err
	}
	env, ns, ip, wait, err := echoArgs(thread, b, &nsA, dst, timeout)
	if err != nil {
		return nil, err
	}
	step(thread, "ping -c %d %s in %s", count, ip, ns.ref)
	res, err := env.Lab.B.Ping(env.Ctx, ns.ref, ip, count, wait)
	if errors.Is(err, model.ErrUnknown) {
		// Only the kernel knows an echo the model cannot decide (to a
		// link-local address).
		return pingResult(count, Unknown{what: "ping(...).received", thread: thread}, Unknown{what: "ping(...).rtt_ms", thread: thread}), nil
	}
	if err != nil {
		return nil, wrap(b, err)
	}
	if err := env.Ctx.Err(); err != nil {
		return nil, fmt.Errorf("ping: %w", err)
	}
	result(thread, "%d of %d answered", res.Received, res.Sent)
	var rtt starlark.Value = starlark.None
	switch {
	case !res.Known && res.Received > 0:
		rtt = Unknown{what: "ping(...).rtt_ms", thread: thread}
	case len(res.RTTs) > 0:
		rtt = starlark.Float(msOf(res.RTTs))
	}
	return pingResult(res.Sent, starlark.MakeInt(res.Received), rtt), nil
}

// pingResult is what ping returns.
func pingResult(sent int, received, rttMS starlark.Value) starlark.Value {
	return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
		"sent":     starlark.MakeInt(sent),
		"received": received,
		"rtt_ms":   rttMS,
	})
}

// echoArgs resolves what ping and expect.reachable/unreachable share: the
// namespace to send from, the address, and the time to wait.
func echoArgs(thread *starlark.Thread, b *starlark.Builtin, nsA *nsArg, dst, timeout string) (*Env, *Netns, net.IP, time.Duration, error) {
	env, ns, err := nsOf(thread, b, nsA)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	ip, err := parseIP(dst)
	if err != nil {
		return nil, nil, nil, 0, wrap(b, err)
	}
	wait, err := answerWait(b.Name(), timeout)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	return env, ns, ip, wait, nil
}

func parseIP(s string) (net.IP, error) {
	ip := net.ParseIP(s)
	if addr, zone, ok := strings.Cut(s, "%"); ip == nil && ok && net.ParseIP(addr) != nil {
		return nil, fmt.Errorf("%q: an echo goes out where the namespace's routes send it, and nsplay takes no zone (%%%s) to pick the link; check a global or unique local address on that link, or run `ping -c 1 %s` with exec_in", s, zone, s)
	}
	if ip == nil {
		return nil, fmt.Errorf("%q is not an IP address", s)
	}
	if ip4 := ip.To4(); ip4 != nil {
		return ip4, nil
	}
	return ip, nil
}

// msOf is the mean of the round trips, in milliseconds.
func msOf(rtts []time.Duration) float64 {
	var sum time.Duration
	for _, d := range rtts {
		sum += d
	}
	return float64(sum) / float64(len(rtts)) / float64(time.Millisecond)
}
