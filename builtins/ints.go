package builtins

// Integer arguments are checked against the range Linux takes for them
// when they are unpacked: the kernel keeps most of them in 16 or 32 bits,
// and a larger Starlark int would reach it cut short (mtu = 4294968796
// becomes 1500, 1 << 40 becomes 0) while the step line shows the number
// the playbook gave.

import (
	"fmt"

	"go.starlark.net/starlark"
)

// The ranges, with what a message says of each.
var (
	mtuRange    = intRange{min: 68, max: 65535, what: "an MTU: 68, IPv4's least, to 65535, the most a bridge or veth takes"}
	bridgeMTU   = intRange{min: 68, max: 65535, orZero: true, what: "an MTU: 68, IPv4's least, to 65535, the most a bridge takes"}
	metricRange = intRange{min: 0, max: 1<<32 - 1, what: "a route metric, which Linux keeps in 32 bits"}
	netnsIDs    = intRange{min: 0, max: 1<<31 - 1, what: "a namespace id, which Linux keeps as a positive 32-bit number"}
	pidRange    = intRange{min: 1, max: 1 << 22, what: "a process id: Linux gives none above 4194304"}
	portRange   = intRange{min: 1, max: 65535, what: "a TCP or UDP port"}
	countRange  = intRange{min: 1, max: 65535, what: "a count of echo requests, numbered in 16 bits"}
)

// intRange is an integer argument's range: starlark.UnpackArgs takes
// intRange.of(&v) where it would take &v.
type intRange struct {
	min, max int64
	orZero   bool   // 0 is allowed too: the kernel's default
	what     string // what the number is, and why that range
}

// of unpacks into v.
func (r intRange) of(v *int) *rangedInt { return &rangedInt{r, v} }

type rangedInt struct {
	intRange
	v *int
}

func (a *rangedInt) Unpack(v starlark.Value) error {
	i, ok := v.(starlark.Int)
	if !ok {
		return fmt.Errorf("got %s, want int", v.Type())
	}
	n, exact := i.Int64()
	if !exact || (n < a.min || n > a.max) && !(a.orZero && n == 0) {
		zero := ""
		if a.orZero {
			zero = "0, the kernel's default, or "
		}
		return fmt.Errorf("got %s, want %sa number from %d to %d (%s)", i, zero, a.min, a.max, a.what)
	}
	*a.v = int(n)
	return nil
}
