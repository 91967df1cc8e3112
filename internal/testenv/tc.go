package testenv

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// Qdisc is the part of `tc -j qdisc show` tests look at.
type Qdisc struct {
	Kind    string         `json:"kind"`
	Dev     string         `json:"dev"`
	Root    bool           `json:"root"`
	Options map[string]any `json:"options"`
}

// RootQdisc returns the root qdisc of link dev in the named namespace
// netns ("" for the test's own) as tc sees it, an independent observer.
func RootQdisc(t testing.TB, netns, dev string) Qdisc {
	t.Helper()
	args := []string{"-j", "qdisc", "show"}
	if netns != "" {
		args = append([]string{"-n", netns}, args...)
	}
	var stderr strings.Builder
	cmd := exec.Command("tc", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tc %v: %v\n%s", args, err, stderr.String())
	}
	var qdiscs []Qdisc
	if err := json.Unmarshal(out, &qdiscs); err != nil {
		t.Fatalf("tc %v: %v\n%s", args, err, out)
	}
	for _, q := range qdiscs {
		if q.Dev == dev && q.Root {
			return q
		}
	}
	t.Fatalf("tc %v shows no root qdisc of %s:\n%s", args, dev, out)
	return Qdisc{}
}
