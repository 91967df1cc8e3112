package interp_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/session"
	"github.com/nsplay/nsplay/internal/testenv"
	"github.com/nsplay/nsplay/interp"
)

// A run stopped by --timeout (as by a signal) reports the statement the
// playbook was running, also in a loop whose instructions carry no
// position of their own (a while loop's jump back, `pass`), and tears
// the lab down within a bound.
func TestStopReportsTheRunningStatement(t *testing.T) {
	testenv.RequireRoot(t)
	for _, tc := range []struct{ name, src, want string }{
		{"while-pass", "netns(\"stop1\")\nwhile True:\n    pass\n", `:2:1$`},
		{"while-assign", "netns(\"stop1\")\nwhile True:\n    x = 1\n", `:2:1$`},
		{"after-a-loop", "netns(\"stop1\")\nfor i in range(3):\n    print(i)\nwhile True:\n    pass\n", `:4:1$`},
		{"while-add", "netns(\"stop1\")\nn = 0\nwhile True:\n    n += 1\n", `:4:\d+$`},
		{"nested", "netns(\"stop1\")\ndef f():\n    for a in range(10):\n        x = 1\n        while True:\n            x = 2\nf()\n", `:5:9$`},
		{"in-a-function", "netns(\"stop1\")\ndef spin(n):\n    while n > 0:\n        n = n + 1\nspin(1)\n", `:[34]:\d+$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := testenv.TakeSnapshot(t)
			file := filepath.Join(t.TempDir(), tc.name+".star")
			if err := os.WriteFile(file, []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			res, err := session.Run(session.Options{Playbook: file, Paths: model.DefaultPaths, Timeout: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("the run took %s to stop after a timeout of 200ms", took)
			}
			var pe *interp.Error
			if !errors.As(res.RunErr, &pe) || res.TimedOut == nil || res.Status() != 2 {
				t.Fatalf("outcome %+v, want a timed-out run with status 2 and a playbook error", res)
			}
			if want := regexp.QuoteMeta(file) + tc.want; !regexp.MustCompile(want).MatchString(pe.Pos) {
				t.Errorf("stopped at %s, want %s", pe.Pos, want)
			}
			if res.DownErr != nil {
				t.Errorf("teardown: %v", res.DownErr)
			}
			before.AssertUnchanged(t)
		})
	}
}
