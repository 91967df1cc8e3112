package builtins

import (
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
)

func nested(n int) starlark.Value {
	var v starlark.Value = starlark.NewList(nil)
	for i := 1; i < n; i++ {
		v = starlark.NewList([]starlark.Value{v})
	}
	return v
}

// depthOf counts nesting as far as the limit, at once however deep the
// value, a list inside itself once, and a value shared many times over
// once.
func TestDepthOf(t *testing.T) {
	for _, n := range []int{1, 1000, 1001, 300000} {
		if got := depthOf(nested(n), 1000); got != n && (n <= 1000 || got <= 1000) {
			t.Errorf("depthOf of a list nested %d deep = %d, want %d, or more than 1000 past it", n, got, n)
		}
	}
	self := starlark.NewList(nil)
	self.Append(self)
	if got := depthOf(self, 1000); got != 1 {
		t.Errorf("depthOf of a list holding itself = %d, want 1", got)
	}
	var shared starlark.Value = starlark.NewList(nil)
	for range 60 {
		shared = starlark.NewList([]starlark.Value{shared, shared}) // 2^60 paths
	}
	if got := depthOf(shared, 1000); got != 61 {
		t.Errorf("depthOf of a list shared 2^60 times over = %d, want 61", got)
	}
}

// render stops at its budget: a check line on a huge or deep value costs
// no more than one on a small one.
func TestShortIsBounded(t *testing.T) {
	start := time.Now()
	huge := starlark.String(strings.Repeat("x", 10<<20))
	if got := short(huge); !strings.HasSuffix(got, "… (at least 65436 characters more)") {
		t.Errorf("short of a 10 MB string ends %q", got[len(got)-40:])
	}
	if got := short(nested(300000)); !strings.HasPrefix(got, strings.Repeat("[", 64)+"…") {
		t.Errorf("short of a list nested 300000 deep = %q", got)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("short of huge values took %s", took)
	}
	if got := short(starlark.MakeInt(42)); got != "42" {
		t.Errorf("short(42) = %q", got)
	}
}
