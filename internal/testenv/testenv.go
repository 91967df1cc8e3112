// Package testenv is what nsplay's kernel tests share: every test binary
// runs inside a sandbox (fresh network, mount and PID namespaces, private
// /run and /etc), so tests cannot change the machine, and `ip` observes what
// nsplay built.
package testenv

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/sandbox"
)

// Main is the body of TestMain for packages with kernel tests: it serves
// as the exec helper of the commands the tests start (kernel.Start), and
// as root it re-runs the test binary inside a sandbox and exits with its
// status.
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m *testing.M) {
	kernel.MaybeExecHelper()
	if fuzzWorker() {
		// go test -fuzz runs the fuzz targets in worker processes that
		// talk to it over inherited pipes; they run no kernel test, and a
		// sandbox would cut those pipes.
		os.Exit(m.Run())
	}
	if os.Geteuid() == 0 && !sandbox.Inside() {
		code, err := sandbox.Run(os.Args[1:])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(code)
	}
	if sandbox.Inside() {
		if err := sandbox.Setup(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}

// fuzzWorker tells whether this test binary is a worker of go test -fuzz.
func fuzzWorker() bool {
	for _, arg := range os.Args[1:] {
		if strings.HasPrefix(arg, "-test.fuzzworker") {
			return true
		}
	}
	return false
}

// RequireRoot skips a test that needs root, or fails it when
// NSPLAY_REQUIRE_ROOT=1 (CI), so a kernel test cannot skip silently there.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		if !sandbox.Inside() {
			t.Fatal("kernel tests must run in the sandbox: call testenv.Main from TestMain")
		}
		return
	}
	if os.Getenv("NSPLAY_REQUIRE_ROOT") == "1" {
		t.Fatal("this test needs root, and NSPLAY_REQUIRE_ROOT=1 forbids skipping it")
	}
	t.Skip("needs root (network namespaces); run as root, or set NSPLAY_REQUIRE_ROOT=1 to make this a failure")
}

// IP runs `ip args...` and returns its output; the test fails if it fails.
func IP(t testing.TB, args ...string) string {
	t.Helper()
	var stderr strings.Builder
	cmd := exec.Command("ip", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("ip %v: %v\n%s%s", args, err, out, stderr.String())
	}
	return string(out)
}

// IPJSON runs `ip -j args...` and decodes its output into v.
func IPJSON(t testing.TB, v any, args ...string) {
	t.Helper()
	out := IP(t, append([]string{"-j"}, args...)...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("ip -j %v: %v\n%s", args, err, out)
	}
}

// Link is the part of `ip -j -d link show` tests look at.
type Link struct {
	Name      string   `json:"ifname"`
	Index     int      `json:"ifindex"`
	Flags     []string `json:"flags"`
	OperState string   `json:"operstate"`
	MTU       int      `json:"mtu"`
	TxQLen    int      `json:"txqlen"`
	Master    string   `json:"master"`
	Address   string   `json:"address"`
	LinkInfo  struct {
		Kind string `json:"info_kind"`
		Data struct {
			STPState *int `json:"stp_state"`
		} `json:"info_data"`
	} `json:"linkinfo"`
}

// Links lists the links of a namespace ("" for the test's own) as ip sees them.
func Links(t testing.TB, netns string) map[string]Link {
	t.Helper()
	args := []string{"-d", "link", "show"}
	if netns != "" {
		args = append([]string{"-n", netns}, args...)
	}
	var links []Link
	IPJSON(t, &links, args...)
	m := map[string]Link{}
	for _, l := range links {
		m[l.Name] = l
	}
	return m
}

// Netns lists the named namespaces as `ip netns list` sees them.
func Netns(t testing.TB) []string {
	t.Helper()
	var list []struct {
		Name string `json:"name"`
	}
	out := IP(t, "-j", "netns", "list")
	if out == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("ip -j netns list: %v\n%s", err, out)
	}
	var names []string
	for _, n := range list {
		names = append(names, n.Name)
	}
	return names
}
