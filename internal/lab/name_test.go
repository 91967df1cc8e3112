package lab_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
)

// A lab's name follows the rule the regular expression below states (it
// was the check once): each byte on its own, the edges of the length, and
// names that are not ASCII. Open in memory (no Labs folder) checks the name
// and touches nothing.
func TestLabNameRule(t *testing.T) {
	rule := regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)
	names := []string{"", "lab", "a.b-c_d", "_x", ".x", "-x", "x.", "x-", "a b", "a/b", "lab\n", "ns\x00",
		"é", "aé", strings.Repeat("n", 63), strings.Repeat("n", 64), strings.Repeat("n", 65), "\xff"}
	for c := range 256 {
		names = append(names, string(rune(c)), "a"+string([]byte{byte(c)}), string([]byte{byte(c)})+"a")
	}
	for _, name := range names {
		l, err := lab.Open(name, nil, model.Paths{}, "")
		if l != nil {
			l.Close()
		}
		switch want := rule.MatchString(name); {
		case want && err != nil:
			t.Errorf("Open(%q): %v, want the name accepted", name, err)
		case !want && err == nil:
			t.Errorf("Open(%q) accepted the name", name)
		case !want && err.Error() != fmt.Sprintf("lab name %q: use up to 64 letters, digits, '_', '.' and '-', not starting with '.' or '-'", name):
			t.Errorf("Open(%q): %v", name, err)
		}
	}
}
