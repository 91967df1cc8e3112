package main

import (
	"strings"
	"testing"
)

// -D values come from the command line: the parser may not panic, and
// what it accepts is a name and a value that make up the flag. (var()
// converts the value: builtins' FuzzVar.)
func FuzzDefines(f *testing.F) {
	for _, s := range []string{"hosts=5", "name=", "=x", "x", "a=b=c", "", "é=ü", "n=\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := defines{}
		if err := d.Set(s); err != nil {
			if !strings.Contains(err.Error(), "want name=value") {
				t.Fatalf("Set(%q) error %q does not say what it wants", s, err)
			}
			return
		}
		if len(d) != 1 {
			t.Fatalf("Set(%q) gave %d variables", s, len(d))
		}
		for name, value := range d {
			if name == "" || name+"="+value != s {
				t.Fatalf("Set(%q) gave %q = %q", s, name, value)
			}
		}
	})
}
