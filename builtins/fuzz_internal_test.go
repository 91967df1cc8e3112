package builtins

import (
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
)

// Durations and -D values come from the user: neither parser may panic,
// and what they accept must be what the playbook gets. Seeds are in
// testdata/fuzz; `make fuzz` runs each target for a while.

func FuzzDuration(f *testing.F) {
	for _, s := range []string{"500ms", "2s", "1m", "0s", "-1s", "fast", "", "1.5h", "9223372036854775807ns", "99999999999h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := duration("ping", "timeout", s)
		if err != nil {
			if !strings.Contains(err.Error(), "is not a duration") && !strings.Contains(err.Error(), "is negative") {
				t.Fatalf("duration(%q) error %q does not say what is wrong", s, err)
			}
			return
		}
		if want, perr := time.ParseDuration(s); d < 0 || perr != nil || want != d {
			t.Fatalf("duration(%q) = %s, want %s (%v), never negative", s, d, want, perr)
		}
	})
}

func FuzzVar(f *testing.F) {
	for _, s := range []string{"3", "0x10", "0o17", "0b101", "-7", "1.5", "1e309", "true", "off", "yes", "x", "", "9223372036854775808"} {
		f.Add(s)
	}
	defaults := []starlark.Value{starlark.String("s"), starlark.MakeInt(3), starlark.Float(0.5), starlark.True}
	f.Fuzz(func(t *testing.T, s string) {
		for _, def := range defaults {
			v, err := convertVar("n", s, def)
			if err != nil {
				if !strings.HasPrefix(err.Error(), "var: -D n="+s+": want ") {
					t.Fatalf("convertVar(%q, %s) error %q does not name the variable and what it wants", s, def.Type(), err)
				}
				continue
			}
			if v.Type() != def.Type() {
				t.Fatalf("convertVar(%q, %s) = %s, a %s", s, def.Type(), v, v.Type())
			}
			if str, ok := v.(starlark.String); ok && string(str) != s {
				t.Fatalf("convertVar(%q) as a string = %q", s, str)
			}
		}
	})
}
