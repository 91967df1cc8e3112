package model_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSeam keeps the backend seam: nothing above the backend reaches
// netlink or the kernel package, even indirectly.
func TestSeam(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../../builtins", "../../interp", "../lab").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/vishvananda/") || dep == "github.com/nsplay/nsplay/internal/kernel" {
			t.Errorf("builtins, interp or internal/lab reach %s; they must speak model.Backend only", dep)
		}
	}
}
