package builtins

// expect records checks. A check that fails is reported with its playbook
// position, what was found and what was wanted, and the playbook goes on
// (like t.Errorf); the run then exits 1.
//
//	expect.eq(got, want, msg="")          got == want
//	expect.ne(got, want, msg="")          got != want
//	expect.true(cond, msg="")             cond is true
//	expect.false(cond, msg="")            cond is false
//	expect.contains(container, item, msg="")  item in container (substring for strings)
//	expect.reachable(ns, dst, *, timeout="2s", msg="")    an ICMP echo from ns to dst is answered
//	expect.unreachable(ns, dst, *, timeout="1s", msg="")  it is not
//	expect.listening(ns, port, *, proto="tcp", timeout="2s", msg="")
//	                                    a socket in ns listens on port ("tcp" or "udp") within timeout
//	expect.connects(ns, addr, port, *, timeout="2s", msg="")
//	                                    a TCP connection from ns to addr:port opens within timeout
//	expect.all_reachable(pairs, *, timeout="2s", msg="")
//	                                    every (ns, dst) of the list pairs is reachable: one check (expect_batch.go)
//
// The message of the first five may be positional, as in unittest's
// assertEqual(first, second, msg). The others take it by keyword only:
// after their required arguments come options, and expect.reachable(ns,
// dst, "2s") must not read a timeout as a message.
//
// The last two try again until the timeout passes, so a server that is
// still starting is waited for. A check line shows at most 100 characters
// of a value (values.go), and where two long values first differ.
//
// A failed reachable check says why, as far as the kernel tells: no route,
// the output link down or without carrier (and whether its veth peer or the
// peer's bridge is down), no address, an IPv6 address of the sender or the
// destination still tentative or dadfailed (duplicate address detection).

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nsplay/nsplay/internal/model"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
)

var expectModule = &starlarkstruct.Module{
	Name: "expect",
	Members: starlark.StringDict{
		"eq":          starlark.NewBuiltin("expect.eq", expectCompare(syntax.EQL)),
		"ne":          starlark.NewBuiltin("expect.ne", expectCompare(syntax.NEQ)),
		"true":        starlark.NewBuiltin("expect.true", expectTruth(true)),
		"false":       starlark.NewBuiltin("expect.false", expectTruth(false)),
		"contains":    starlark.NewBuiltin("expect.contains", expectContains),
		"reachable":   starlark.NewBuiltin("expect.reachable", expectReach(true, "2s")),
		"unreachable": starlark.NewBuiltin("expect.unreachable", expectReach(false, "1s")),
		"listening":   starlark.NewBuiltin("expect.listening", expectListening),
		"connects":    starlark.NewBuiltin("expect.connects", expectConnects),

		// One check for many pairs, the echoes at once (expect_batch.go).
		"all_reachable": starlark.NewBuiltin("expect.all_reachable", expectAllReachable),
	},
}

// undecided reports a check that depends on what only the kernel knows (a
// plan): neither passed nor failed.
func undecided(thread *starlark.Thread, msg, what string) (starlark.Value, error) {
	env, err := envOf(thread)
	if err != nil {
		return nil, err
	}
	c := Check{Name: checkName(msg, what), Msg: what}
	if msg != "" {
		c.Msg = msg + ": " + what
	}
	env.Report.Undecided(caller(thread), c)
	return starlark.None, nil
}

// checkName is the name of a check (Check.Name): its msg, or the name of
// its function, which what starts with.
func checkName(msg, what string) string {
	if msg != "" {
		return msg
	}
	name, _, _ := strings.Cut(what, ":")
	name, _, _ = strings.Cut(name, "(")
	return name
}

// record reports one check at the caller's position; in a plan, one on a
// line that used an unknown is undecided. what starts with the name of
// the check's function.
func record(thread *starlark.Thread, ok bool, msg, what string) (starlark.Value, error) {
	return recordValues(thread, ok, msg, what, "", "")
}

// recordValues is record for a comparison: got and want are the actual
// and the expected value as what writes them, which reports such as JUnit
// and TAP show apart from the message.
func recordValues(thread *starlark.Thread, ok bool, msg, what, got, want string) (starlark.Value, error) {
	env, err := envOf(thread)
	if err != nil {
		return nil, err
	}
	if env.unknownAt[lineOf(caller(thread))] {
		return undecided(thread, msg, checkName("", what)+": its line uses a value only the kernel knows")
	}
	c := Check{OK: ok, Name: checkName(msg, what), Msg: what, Got: got, Want: want}
	if msg != "" {
		c.Msg = msg + ": " + what
	}
	env.Report.Check(caller(thread), c)
	return starlark.None, nil
}

func expectCompare(op syntax.Token) builtinFn {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var got, want starlark.Value
		var msg string
		if err := unpack(b.Name(), args, kwargs, 3, "got", &got, "want", &want, "msg?", &msg); err != nil {
			return nil, err
		}
		if u := unknownIn(got, want); u != "" {
			return undecided(thread, msg, fmt.Sprintf("%s: %s is known only to the kernel", b.Name(), u))
		}
		ok, err := starlark.Compare(op, got, want)
		if err != nil {
			return nil, wrap(b, err)
		}
		what := fmt.Sprintf("%s(%s, %s)", b.Name(), short(got), short(want))
		wanted := short(want)
		if op == syntax.NEQ {
			wanted = "anything but " + wanted
		}
		if !ok && op == syntax.EQL {
			what = fmt.Sprintf("%s: got %s, want %s", b.Name(), short(got), short(want))
			if d := difference(got, want); d != "" {
				what += "; " + d
			}
		} else if !ok {
			what = fmt.Sprintf("%s: got %s, want anything else", b.Name(), short(got))
		}
		return recordValues(thread, ok, msg, what, short(got), wanted)
	}
}

func expectTruth(want bool) builtinFn {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var cond starlark.Value
		var msg string
		if err := unpack(b.Name(), args, kwargs, 2, "cond", &cond, "msg?", &msg); err != nil {
			return nil, err
		}
		if u := unknownIn(cond); u != "" {
			return undecided(thread, msg, fmt.Sprintf("%s: %s is known only to the kernel", b.Name(), u))
		}
		ok := bool(cond.Truth()) == want
		wanted := fmt.Sprintf("a %v value", map[bool]string{true: "true", false: "false"}[want])
		what := fmt.Sprintf("%s(%s)", b.Name(), short(cond))
		if !ok {
			what = fmt.Sprintf("%s: got %s, want %s", b.Name(), short(cond), wanted)
		}
		return recordValues(thread, ok, msg, what, short(cond), wanted)
	}
}

func expectContains(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var container, item starlark.Value
	var msg string
	if err := unpack(b.Name(), args, kwargs, 3, "container", &container, "item", &item, "msg?", &msg); err != nil {
		return nil, err
	}
	if u := unknownIn(container, item); u != "" {
		return undecided(thread, msg, fmt.Sprintf("%s: %s is known only to the kernel", b.Name(), u))
	}
	in, err := starlark.Binary(syntax.IN, item, container)
	if err != nil {
		return nil, wrap(b, err)
	}
	ok := bool(in.Truth())
	what := fmt.Sprintf("%s: %s in %s", b.Name(), short(item), short(container))
	if !ok {
		what = fmt.Sprintf("%s: %s is not in %s", b.Name(), short(item), short(container))
	}
	return recordValues(thread, ok, msg, what, short(container), "something that holds "+short(item))
}

func expectListening(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var nsA nsArg
	var port int
	proto, msg, timeout := "tcp", "", "2s"
	if err := unpack(b.Name(), args, kwargs, 2, "ns", &nsA, "port", portRange.of(&port), "proto?", &proto, "timeout?", &timeout, "msg?", &msg); err != nil {
		return nil, err
	}
	limit, err := duration(b.Name(), "timeout", timeout)
	if err != nil {
		return nil, err
	}
	env, ns, err := nsOf(thread, b, &nsA)
	if err != nil {
		return nil, err
	}
	var ok bool
	err = retry(env, limit, func() (bool, error) {
		ok, err = env.Lab.B.Listening(ns.ref, proto, port)
		return ok, err
	})
	if errors.Is(err, model.ErrUnknown) {
		return undecided(thread, msg, fmt.Sprintf("%s: whether %s port %d is listened on in %s is known only to the kernel", b.Name(), proto, port, ns.ref))
	}
	if err != nil {
		return nil, wrap(b, err)
	}
	what := fmt.Sprintf("%s: %s port %d is listened on in %s", b.Name(), proto, port, ns.ref)
	if !ok {
		what = fmt.Sprintf("%s: nothing listens on %s port %d in %s within %s", b.Name(), proto, port, ns.ref, limit)
	}
	return record(thread, ok, msg, what)
}

func expectConnects(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var nsA nsArg
	var addr, msg string
	var port int
	timeout := "2s"
	if err := unpack(b.Name(), args, kwargs, 3, "ns", &nsA, "addr", &addr, "port", portRange.of(&port), "timeout?", &timeout, "msg?", &msg); err != nil {
		return nil, err
	}
	env, ns, err := nsOf(thread, b, &nsA)
	if err != nil {
		return nil, err
	}
	ip, err := parseIP(addr)
	if err != nil {
		return nil, wrap(b, err)
	}
	limit, err := duration(b.Name(), "timeout", timeout)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("%s: %s connects to %s port %d", b.Name(), ns.ref, ip, port)
	var cerr error
	deadline := time.Now().Add(limit)
	if err := retry(env, limit, func() (bool, error) {
		// An attempt lasts half a second at most, so that a cancelled run
		// is answered between two.
		cerr = env.Lab.B.Connect(ns.ref, ip, port, min(max(time.Until(deadline), time.Millisecond), 500*time.Millisecond))
		return cerr == nil || errors.Is(cerr, model.ErrUnknown), nil
	}); err != nil {
		return nil, wrap(b, err)
	}
	if errors.Is(cerr, model.ErrUnknown) {
		return undecided(thread, msg, fmt.Sprintf("%s: whether %s connects to %s port %d is known only to the kernel", b.Name(), ns.ref, ip, port))
	}
	if cerr != nil {
		what = fmt.Sprintf("%s: %s does not connect to %s port %d: %v", b.Name(), ns.ref, ip, port, cerr)
	}
	return record(thread, cerr == nil, msg, what)
}

// retry calls try every 50ms until it succeeds, fails, or limit passes.
func retry(env *Env, limit time.Duration, try func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := try()
		if ok || err != nil || !time.Now().Before(deadline) {
			return err
		}
		select {
		case <-env.Ctx.Done():
			return env.Ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// expectReach checks reachability by sending echo requests from inside ns
// until one is answered or the timeout passes.
func expectReach(want bool, defaultTimeout string) builtinFn {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var nsA nsArg
		var dst, msg string
		timeout := defaultTimeout
		if err := unpack(b.Name(), args, kwargs, 2, "ns", &nsA, "dst", &dst, "timeout?", &timeout, "msg?", &msg); err != nil {
			return nil, err
		}
		env, ns, ip, limit, err := echoArgs(thread, b, &nsA, dst, timeout)
		if err != nil {
			return nil, err
		}
		deadline := time.Now().Add(limit)
		var rtt []time.Duration
		answered, measured := false, true
		for !answered && env.Ctx.Err() == nil {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			attempt := min(left, 500*time.Millisecond)
			start := time.Now()
			res, err := env.Lab.B.Ping(env.Ctx, ns.ref, ip, 1, attempt)
			if errors.Is(err, model.ErrUnknown) {
				return undecided(thread, msg, fmt.Sprintf("%s: %v", b.Name(), err))
			}
			if err != nil {
				return nil, wrap(b, err)
			}
			rtt, answered, measured = res.RTTs, res.Received > 0, res.Known
			if !measured {
				break // the model decides at once
			}
			if !answered {
				// Without a route the kernel refuses at once: wait out the
				// attempt rather than spin.
				select {
				case <-env.Ctx.Done():
				case <-time.After(attempt - time.Since(start)):
				}
			}
		}
		if err := env.Ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		took := "in the model"
		if measured && answered {
			took = fmt.Sprintf("%.3f ms", msOf(rtt))
		}
		var what string
		switch {
		case answered && want:
			what = fmt.Sprintf("%s answers from %s (%s)", ip, ns.ref, took)
		case answered:
			what = fmt.Sprintf("%s answers from %s (%s), want no reply", ip, ns.ref, took)
		case want:
			what = fmt.Sprintf("%s does not answer from %s within %s: %s", ip, ns.ref, limit, env.Lab.B.WhyUnreachable(ns.ref, ip))
		default:
			what = fmt.Sprintf("%s does not answer from %s within %s", ip, ns.ref, limit)
		}
		return record(thread, answered == want, msg, b.Name()+": "+what)
	}
}
