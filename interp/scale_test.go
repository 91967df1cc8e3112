package interp_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/session"
	"github.com/nsplay/nsplay/internal/testenv"
	"github.com/nsplay/nsplay/interp"
)

// noBridgeNftables is the kernel backend of a kernel without nftables for
// bridges: it refuses the table that quiets MLD, as the kernel backend
// does there.
type noBridgeNftables struct{ model.Backend }

func (b noBridgeNftables) Apply(op model.Op) error {
	if q, ok := op.(model.MLDQuiet); ok {
		return fmt.Errorf("table bridge %s in %s: no nftables for bridges here: %w", q.Table, q.NS, model.ErrUnsupported)
	}
	return b.Backend.Apply(op)
}

// TestQuietMLDWithoutNftablesForBridges runs a star of two hosts where
// the kernel cannot make the table that drops MLD reports: the run says
// so once, where the first port joins, adds no port to a table that is not
// there, and builds, checks and tears down the lab as it would without
// quiet_ipv6's table.
func TestQuietMLDWithoutNftablesForBridges(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	file := filepath.Join(t.TempDir(), "nonft.star")
	src := `br = bridge("nonft0").add_addr("10.82.0.1/24").set_up()
for i in range(2):
    h = netns("nonft-h%d" % i)
    e = veth("eth0", peer = "nonft-h%d" % i, ns = h, peer_ns = host)
    e.add_addr("10.82.0.%d/24" % (i + 2)).set_up()
    e.peer.set_master(br).set_up()
expect.all_reachable([(netns("nonft-h%d" % i), "10.82.0.1") for i in range(2)])
expect.eq(state(host).get("quiet_mld"), None)
`
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var results, steps []string
	open := func(paths model.Paths) (model.Backend, error) {
		b, err := kernel.NewBackend(paths)
		return noBridgeNftables{b}, err
	}
	out, err := session.Run(session.Options{Playbook: file, Paths: model.DefaultPaths, Backend: open, Emit: func(e interp.Event) {
		switch e.Kind {
		case "result":
			results = append(results, strings.TrimPrefix(e.Pos, file)+" "+e.Msg)
		case "step":
			steps = append(steps, e.Msg)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.RunErr != nil || out.DownErr != nil || out.Result.Failed != 0 || out.Result.Passed != 2 {
		t.Fatalf("run: %+v", out)
	}
	want := ":6 set_master: " + model.MLDQuiet{NS: model.Host, Table: "nsplay-nonft"}.Text() +
		": table bridge nsplay-nonft in host: no nftables for bridges here: not supported; the lab goes on without it, and its bridges in host flood their hosts' MLD reports to every port"
	if len(results) != 1 || results[0] != want {
		t.Errorf("results %q, want one: %q", results, want)
	}
	for _, s := range steps {
		if strings.Contains(s, "nft ") {
			t.Errorf("step %q, with no table made", s)
		}
	}
	before.AssertUnchanged(t)
}
