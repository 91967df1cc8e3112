package kernel

import (
	"bufio"
	"strings"
	"testing"
)

// The neighbour tables' overflow counters are read from /proc/net/stat,
// one line per CPU in hexadecimal.
func TestNeighbourOverflows(t *testing.T) {
	const stat = `entries  allocs   destroys hash_grows lookups  hits     res_failed rcv_probes_mcast rcv_probes_ucast periodic_gc_runs forced_gc_runs unresolved_discards table_fulls
00000007 00001911 000018b5 00000002   000094f7 0000084e 00000086   00000000         00000000         00000000         00000000       00000000            0000000a
00000007 00001868 000018bd 00000000   000091ca 000008c0 0000007b   00000000         00000000         00000161         00000000       00000000            00000005
`
	if n, err := tableFulls(bufio.NewScanner(strings.NewReader(stat))); err != nil || n != 15 {
		t.Errorf("tableFulls = %d, %v; want 15 (0xa + 0x5)", n, err)
	}
	if _, err := tableFulls(bufio.NewScanner(strings.NewReader("entries allocs\n1 2\n"))); err == nil {
		t.Error("tableFulls of a table without table_fulls: no error")
	}
	// In the test's sandbox the counters are not there (the kernel shows
	// them only in the machine's first network namespace): no hint then.
	if hint, _ := neighbourHint(neighbourOverflows()); hint != "" {
		t.Errorf("neighbourHint with no overflow since = %q, want nothing", hint)
	}
}
