package kernel_test

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/testenv"
	"golang.org/x/sys/unix"
)

// The 1024th port of a bridge is refused by the kernel with EXFULL,
// "exchange full"; nsplay says what limit that is.
func TestBridgePortLimitInPlainWords(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t)
	var batch strings.Builder
	batch.WriteString("link add br0 type bridge\n")
	for i := 1; i <= 1024; i++ {
		fmt.Fprintf(&batch, "link add p%d type veth peer name q%d\n", i, i)
		if i < 1024 {
			fmt.Fprintf(&batch, "link set p%d master br0\n", i)
		}
	}
	cmd := exec.Command("ip", "-n", ns.Name, "-batch", "-")
	cmd.Stdin = strings.NewReader(batch.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip -batch: %v\n%s", err, out)
	}
	err := ns.SetMaster("p1024", "br0")
	wantErrContains(t, err, "a Linux bridge takes at most 1023 ports", "more bridges", "exchange full")
	if !errors.Is(err, unix.EXFULL) {
		t.Errorf("the error %v does not match EXFULL", err)
	}
}
