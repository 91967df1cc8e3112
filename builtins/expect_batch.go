package builtins

//	expect.all_reachable(pairs, *, timeout="2s", msg="")
//	    every (netns, address) pair of the list pairs answers an ICMP echo
//	    from netns to address within timeout: one check for all of them.
//
// The echoes run at once, a bounded number at a time (the backend bounds
// it), so a star of a thousand hosts is checked in about the time of its
// slowest pair, and one pair that fails costs its timeout once, not once
// per pair after it. The check line counts the answers and gives the
// median and the largest round trip; each pair that did not answer is
// listed, the first 20 with the diagnosis expect.reachable gives.
//
// An empty list is an error, not a check that passes: a check of nothing
// is most likely a loop that collected nothing (a var set to 0, a filter
// that matched no host), and it would pass silently forever.

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nsplay/nsplay/internal/model"
	"go.starlark.net/starlark"
)

func expectAllReachable(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var pairs starlark.Value
	timeout, msg := "2s", ""
	if err := unpack(b.Name(), args, kwargs, 1, "pairs", &pairs, "timeout?", &timeout, "msg?", &msg); err != nil {
		return nil, err
	}
	limit, err := answerWait(b.Name(), timeout)
	if err != nil {
		return nil, err
	}
	env, err := envOf(thread)
	if err != nil {
		return nil, err
	}
	echoes, unknown, err := echoPairs(env, pairs)
	if err != nil {
		return nil, wrap(b, err)
	}
	if unknown != "" {
		return undecided(thread, msg, fmt.Sprintf("%s: %s is known only to the kernel", b.Name(), unknown))
	}
	results, err := env.Lab.B.EchoAll(env.Ctx, echoes, limit)
	if errors.Is(err, model.ErrUnknown) {
		return undecided(thread, msg, fmt.Sprintf("%s: %v", b.Name(), err))
	}
	if err == nil {
		err = env.Ctx.Err()
	}
	if err != nil {
		return nil, wrap(b, err)
	}
	var rtts []time.Duration
	var lost []string
	for i, r := range results {
		switch {
		case !r.Answered:
			e := echoes[i]
			why := "not diagnosed"
			if len(lost) < diagnosed {
				why = env.Lab.B.WhyUnreachable(e.From, e.To)
			}
			lost = append(lost, fmt.Sprintf("%s from %s (%s)", e.To, e.From, why))
		case r.Known:
			rtts = append(rtts, r.RTT)
		}
		if err := env.Ctx.Err(); err != nil {
			return nil, wrap(b, err)
		}
	}
	what := fmt.Sprintf("%s: %d of %d answered%s", b.Name(), len(results)-len(lost), len(results), roundTrips(rtts, results))
	if len(lost) > 0 {
		what += fmt.Sprintf("; no answer within %s: %s", limit, strings.Join(lost, "; "))
	}
	if len(lost) > diagnosed {
		what += fmt.Sprintf("; the first %d are diagnosed", diagnosed)
	}
	return record(thread, len(lost) == 0, msg, what)
}

// diagnosed is how many failed pairs of a batch are diagnosed. A diagnosis
// looks for the gateway and the destination in every namespace of the
// lab, so diagnosing each of a thousand failures of a star of a thousand
// would take minutes; a lab that loses that many pairs mostly loses them
// for one reason, which the first ones show.
const diagnosed = 20

// echoPairs checks the pairs argument and resolves its namespaces: a list
// or tuple of (netns, address) pairs, the netns a handle or a name, the
// address an IP address. It names the first pair that is not, by index. A
// pair with a value only the kernel knows (a plan) is returned as unknown.
func echoPairs(env *Env, pairs starlark.Value) ([]model.Echo, string, error) {
	if u := unknownIn(pairs); u != "" {
		return nil, u, nil
	}
	var list starlark.Indexable
	switch v := pairs.(type) {
	case *starlark.List, starlark.Tuple:
		list = v.(starlark.Indexable)
	default:
		return nil, "", fmt.Errorf("pairs is %s, want a list of (netns, address) pairs, like [(h1, \"10.0.0.1\"), (h2, \"10.0.0.1\")]", short(pairs))
	}
	if list.Len() == 0 {
		return nil, "", errors.New("pairs is empty: there is nothing to check; give at least one (netns, address) pair (did the loop that collects them run?)")
	}
	// Every pair is checked, also after one only the kernel knows: a
	// plan reports a bad pair as the run would.
	echoes := make([]model.Echo, list.Len())
	unknown := ""
	for i := range list.Len() {
		pair := list.Index(i)
		if u := unknownIn(pair); u != "" {
			unknown = cmp.Or(unknown, u)
			continue
		}
		two, ok := pair.(starlark.Indexable)
		if _, isString := pair.(starlark.String); isString || !ok || two.Len() != 2 {
			hint := ""
			if t, isTuple := pairs.(starlark.Tuple); isTuple && len(t) == 2 {
				hint = "; a single pair is still a list of one: [(netns, address)]"
			}
			return nil, "", fmt.Errorf("pairs[%d] is %s, want a (netns, address) pair%s", i, short(pair), hint)
		}
		if u := unknownIn(two.Index(0), two.Index(1)); u != "" {
			unknown = cmp.Or(unknown, u)
			continue
		}
		var nsA nsArg
		if err := nsA.Unpack(two.Index(0)); err != nil {
			return nil, "", fmt.Errorf("pairs[%d][0]: %w", i, err)
		}
		ns, err := nsA.must(env)
		if err != nil {
			return nil, "", fmt.Errorf("pairs[%d][0]: %w", i, err)
		}
		addr, ok := starlark.AsString(two.Index(1))
		if !ok {
			return nil, "", fmt.Errorf("pairs[%d][1] is %s, want an IP address as a string, like \"10.0.0.1\"", i, short(two.Index(1)))
		}
		ip, err := parseIP(addr)
		if err != nil {
			return nil, "", fmt.Errorf("pairs[%d][1]: %w", i, err)
		}
		echoes[i] = model.Echo{From: ns.ref, To: ip}
	}
	if unknown != "" {
		return nil, unknown, nil
	}
	return echoes, "", nil
}

// roundTrips is ", p50 … ms, max … ms" of the answers' round trips, or
// " (in the model)" when only the kernel knows them (a plan).
func roundTrips(rtts []time.Duration, results []model.EchoResult) string {
	if len(results) > 0 && !results[0].Known {
		return " (in the model)"
	}
	if len(rtts) == 0 {
		return ""
	}
	slices.Sort(rtts)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return fmt.Sprintf(", p50 %.3f ms, max %.3f ms", ms(rtts[(len(rtts)-1)/2]), ms(rtts[len(rtts)-1]))
}
