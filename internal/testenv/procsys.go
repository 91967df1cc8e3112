package testenv

import (
	"os/exec"
	"strings"
	"testing"
)

// ProcSys reads a file under /proc/sys as a process in the named
// namespace ("" for the test's own) sees it, with cat: an observer that
// does not go through nsplay.
func ProcSys(t testing.TB, netns, path string) string {
	t.Helper()
	if netns != "" {
		return strings.TrimSpace(IP(t, "netns", "exec", netns, "cat", "/proc/sys/"+path))
	}
	out, err := exec.Command("cat", "/proc/sys/"+path).Output()
	if err != nil {
		t.Fatalf("cat /proc/sys/%s: %v", path, err)
	}
	return strings.TrimSpace(string(out))
}
