package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Impairment is what a link's root qdisc does to the packets that leave
// it: a rate alone is a token bucket filter (tbf), anything else netem,
// which takes a rate too. The zero value is no impairment.
type Impairment struct {
	Rate      uint64        // bytes per second, as the kernel counts; 0: no limit
	Delay     time.Duration // added to every packet
	Jitter    time.Duration // delay varies by up to this much either way
	Loss      float64       // percent of packets dropped
	Duplicate float64       // percent sent twice
	Corrupt   float64       // percent with a bit flipped
	Reorder   float64       // percent sent at once, ahead of the delayed others
	Limit     int           // netem's queue, in packets; 0: the kernel's 1000
}

// IsZero tells whether there is no impairment.
func (i Impairment) IsZero() bool { return i == Impairment{} }

// Qdisc is the kind of root qdisc that makes the impairment.
func (i Impairment) Qdisc() string {
	if i == (Impairment{Rate: i.Rate}) {
		return "tbf"
	}
	return "netem"
}

// Check tells what is wrong with an impairment before a backend sees it.
func (i Impairment) Check() error {
	if i.IsZero() {
		return errors.New("give at least one of rate, delay, loss, duplicate, corrupt, reorder or limit; clear_impairments() removes them")
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"loss", i.Loss}, {"duplicate", i.Duplicate}, {"corrupt", i.Corrupt}, {"reorder", i.Reorder}} {
		if p.v < 0 || p.v > 100 || math.IsNaN(p.v) {
			return fmt.Errorf("%s=%g is not a percentage: give 0 to 100 (1.5 means 1.5%% of the packets)", p.name, p.v)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"delay", i.Delay}, {"jitter", i.Jitter}} {
		if d.v < 0 || d.v%time.Microsecond != 0 {
			return fmt.Errorf("%s=%s: netem counts whole microseconds; write it like \"100ms\" or \"250us\"", d.name, d.v)
		}
	}
	switch {
	case i.Jitter > 0 && i.Delay == 0:
		return errors.New("jitter varies the delay: give a delay too, like delay=\"100ms\", jitter=\"10ms\"")
	case i.Reorder > 0 && i.Delay == 0:
		return errors.New("reorder sends some packets at once and delays the others: give a delay too, like delay=\"10ms\", reorder=25")
	case i.Limit < 0:
		return fmt.Errorf("limit=%d is negative: it is netem's queue in packets (0: the kernel's 1000)", i.Limit)
	}
	return nil
}

// NetemDefaultLimit is the queue netem gets when none is given.
const NetemDefaultLimit = 1000

// impairmentJSON is an impairment as a user writes it: rate and times as
// text ("8mbit", "100ms"), probabilities in percent. state(), show --json,
// link.impairments and the journal use this form.
type impairmentJSON struct {
	Rate      string  `json:"rate,omitempty"`
	Delay     string  `json:"delay,omitempty"`
	Jitter    string  `json:"jitter,omitempty"`
	Loss      float64 `json:"loss,omitempty"`
	Duplicate float64 `json:"duplicate,omitempty"`
	Corrupt   float64 `json:"corrupt,omitempty"`
	Reorder   float64 `json:"reorder,omitempty"`
	Limit     int     `json:"limit,omitempty"`
}

func (i Impairment) MarshalJSON() ([]byte, error) {
	j := impairmentJSON{Loss: i.Loss, Duplicate: i.Duplicate, Corrupt: i.Corrupt, Reorder: i.Reorder, Limit: i.Limit}
	if i.Rate > 0 {
		j.Rate = FormatRate(i.Rate)
	}
	if i.Delay > 0 {
		j.Delay = FormatDuration(i.Delay)
	}
	if i.Jitter > 0 {
		j.Jitter = FormatDuration(i.Jitter)
	}
	return json.Marshal(j)
}

func (i *Impairment) UnmarshalJSON(b []byte) error {
	var j impairmentJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*i = Impairment{Loss: j.Loss, Duplicate: j.Duplicate, Corrupt: j.Corrupt, Reorder: j.Reorder, Limit: j.Limit}
	var err error
	if j.Rate != "" {
		if i.Rate, err = ParseRate(j.Rate); err != nil {
			return err
		}
	}
	for _, d := range []struct {
		s  string
		to *time.Duration
	}{{j.Delay, &i.Delay}, {j.Jitter, &i.Jitter}} {
		if d.s != "" {
			if *d.to, err = time.ParseDuration(d.s); err != nil {
				return err
			}
		}
	}
	return nil
}

// String writes the impairment as one word for a golden file's link line:
// "rate:8mbit", "delay:100ms,loss:1.5%".
func (i Impairment) String() string {
	var parts []string
	for _, a := range i.args() {
		parts = append(parts, a[0]+":"+a[1])
	}
	return strings.Join(parts, ",")
}

// args lists what is set, as tc's netem names and writes it, in tc's order.
func (i Impairment) args() [][2]string {
	var out [][2]string
	if i.Delay > 0 {
		out = append(out, [2]string{"delay", FormatDuration(i.Delay)})
	}
	if i.Jitter > 0 {
		out = append(out, [2]string{"jitter", FormatDuration(i.Jitter)})
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"loss", i.Loss}, {"duplicate", i.Duplicate}, {"corrupt", i.Corrupt}, {"reorder", i.Reorder}} {
		if p.v > 0 {
			out = append(out, [2]string{p.name, strconv.FormatFloat(p.v, 'f', -1, 64) + "%"})
		}
	}
	if i.Rate > 0 {
		out = append(out, [2]string{"rate", FormatRate(i.Rate)})
	}
	if i.Limit > 0 {
		out = append(out, [2]string{"limit", strconv.Itoa(i.Limit)})
	}
	return out
}

// rateUnit is one of tc's units of rate.
type rateUnit struct {
	name string
	bits int64 // bits per second of one unit
}

// bitUnits are tc's units in bits per second, largest first; byteUnits
// those in bytes per second ("bps", as tc counts them: 1mbps is 8mbit).
var (
	bitUnits  = []rateUnit{{"tbit", 1e12}, {"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}}
	byteUnits = []rateUnit{{"tbps", 8e12}, {"gbps", 8e9}, {"mbps", 8e6}, {"kbps", 8e3}, {"bps", 8}}
)

// decimal is how a rate's number is written: digits, maybe a fraction.
var decimal = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

const rateHelp = `write a number and one of tc's units: bit, kbit, mbit, gbit, tbit (bits per second) or bps, kbps, mbps, gbps, tbps (bytes per second: 1mbps is 8mbit), like "8mbit" or "1.5gbit"`

// ParseRate reads a rate in tc's units ("8mbit", "500kbit", "1.5gbit",
// "10mbps") exactly, as bytes per second. Anything else is an error that
// lists the units; so is a rate that is not a whole number of bytes per
// second, which the kernel could not hold.
func ParseRate(s string) (uint64, error) {
	lower := strings.ToLower(s)
	num := strings.TrimRight(lower, "abcdefghijklmnopqrstuvwxyz")
	unit := lower[len(num):]
	var bits int64
	for _, u := range slices.Concat(bitUnits, byteUnits) {
		if u.name == unit {
			bits = u.bits
		}
	}
	n, ok := new(big.Rat).SetString(num)
	if bits == 0 || !ok || !decimal.MatchString(num) {
		return 0, fmt.Errorf("rate %q: %s", s, rateHelp)
	}
	bytes := n.Mul(n, big.NewRat(bits, 8))
	switch {
	case bytes.Sign() == 0:
		return 0, fmt.Errorf("rate %q is zero: leave rate out for no limit", s)
	case !bytes.IsInt():
		return 0, fmt.Errorf("rate %q is not a whole number of bytes per second, which is what the kernel counts: give a multiple of 8bit", s)
	case !bytes.Num().IsUint64():
		return 0, fmt.Errorf("rate %q is more than the kernel holds", s)
	}
	return bytes.Num().Uint64(), nil
}

// FormatRate writes bytes per second in the largest bit unit that keeps it
// exact: 1000000 is "8mbit", 187500 is "1.5mbit". ParseRate reads it back.
func FormatRate(bytesPerSec uint64) string {
	bits := new(big.Int).Mul(new(big.Int).SetUint64(bytesPerSec), big.NewInt(8))
	for _, u := range bitUnits {
		unit := big.NewInt(u.bits)
		if bits.Cmp(unit) >= 0 || u.bits == 1 {
			whole, frac := new(big.Int).QuoRem(bits, unit, new(big.Int))
			s := whole.String()
			if frac.Sign() != 0 {
				digits := len(unit.String()) - 1
				s += "." + strings.TrimRight(fmt.Sprintf("%0*d", digits, frac.Int64()), "0")
			}
			return s + u.name
		}
	}
	return ""
}

// FormatDuration writes a time as tc and Go both read it: "100ms", "1.5s",
// "250us".
func FormatDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
	case d >= time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64) + "ms"
	}
	return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', -1, 64) + "us"
}

// TBFLatency is how long a packet may wait in a tbf's queue before it is
// dropped: `tc ... tbf latency 50ms`, as tc users commonly write it.
const TBFLatency = 50 * time.Millisecond

// TBFBurst is the burst nsplay gives a tbf: 10 ms at the rate (what the
// link may send at full speed after a pause), but at least one full frame
// of a link of that MTU, which a smaller bucket would drop.
func TBFBurst(rate uint64, mtu int) int {
	const ethernetHeader = 14
	return max(int(rate/100), mtu+ethernetHeader)
}

// QdiscSet gives a link a root qdisc that impairs what leaves it, in place
// of the one it has (`tc qdisc replace ... root`). A rate alone is a tbf
// with Burst (bytes) and Latency; anything else is netem.
type QdiscSet struct {
	Link    LinkRef       `json:"link"`
	Impair  Impairment    `json:"impair"`
	Burst   int           `json:"burst,omitempty"`
	Latency time.Duration `json:"latency,omitempty"`
}

// ImpairLink is the QdiscSet for imp on a link of that MTU: a tbf gets
// TBFBurst and TBFLatency.
func ImpairLink(l LinkRef, imp Impairment, mtu int) QdiscSet {
	op := QdiscSet{Link: l, Impair: imp}
	if imp.Qdisc() == "tbf" {
		op.Burst, op.Latency = TBFBurst(imp.Rate, mtu), TBFLatency
	}
	return op
}

func (o QdiscSet) Text() string {
	args := "qdisc replace dev " + o.Link.Name + " root " + o.Impair.Qdisc()
	if o.Impair.Qdisc() == "tbf" {
		args += fmt.Sprintf(" rate %s burst %db latency %s", FormatRate(o.Impair.Rate), o.Burst, FormatDuration(o.Latency))
		return tc(o.Link.NS, args)
	}
	for _, a := range o.Impair.args() {
		if a[0] == "jitter" {
			args += " " + a[1] // tc writes it after the delay: delay 100ms 10ms
			continue
		}
		args += " " + a[0] + " " + a[1]
	}
	return tc(o.Link.NS, args)
}

// Inverse takes the impairment off again: the link gets the kernel's
// default qdisc back.
func (o QdiscSet) Inverse() Op { return QdiscClear{Link: o.Link} }

// QdiscClear removes the impairing root qdisc of a link (tbf or netem);
// the kernel gives it its default one again. A link without one is
// ErrNotFound.
type QdiscClear struct {
	Link LinkRef `json:"link"`
}

func (o QdiscClear) Text() string { return tc(o.Link.NS, "qdisc del dev "+o.Link.Name+" root") }
func (o QdiscClear) Inverse() Op  { return nil }

// tc writes `tc` arguments as a user types them to run in the namespace.
func tc(ns NSRef, args string) string {
	switch {
	case ns.Name() != "":
		return "tc -n " + ns.Name() + " " + args
	case ns.Path() != "":
		return "nsenter --net=" + ns.Path() + " tc " + args
	}
	return "tc " + args
}

var _ = register("qdisc.set", QdiscSet{}) && register("qdisc.clear", QdiscClear{})
