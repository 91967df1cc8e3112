package interp_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/session"
	"github.com/nsplay/nsplay/interp"
)

// TestPlanOrdersUnknowns runs a playbook that orders values only the
// kernel knows against numbers in a plan: the checks are undecided, the
// branch is reported, and the playbook runs to its end; known values order
// as Starlark orders them, and a comparison Starlark refuses is the same
// error at the operator.
func TestPlanOrdersUnknowns(t *testing.T) {
	file := filepath.Join(t.TempDir(), "order.star")
	src := `r = exec_in(host, "echo 3")
expect.true(int(r.stdout) <= 3, msg = "one")
expect.false(4 > len(r.stdout), msg = "two")
if r.rc >= 1:
    fail("not taken")
expect.true(1 < 2 and 2.5 >= 2 and "a" < "b" and [1, 2] <= [1, 3], msg = "known")
expect.eq([i for i in range(5) if i > 2], [3, 4])
print("a" < 1)
`
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var report strings.Builder
	res, err := session.Run(session.Options{Playbook: file, Plan: true, Paths: session.PlanPaths(), Emit: func(e interp.Event) {
		if e.Kind == "check" || e.Undecided {
			report.WriteString(strings.TrimPrefix(e.Pos, file) + " " + e.Msg + "\n")
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := `:2 one: expect.true: int(exec_in(...).stdout) <= 3 is known only to the kernel
:3 two: expect.false: 4 > len(exec_in(...).stdout) is known only to the kernel
:4 a branch on exec_in(...).rc >= 1, which only the kernel knows: the plan takes it as false
:6 known: expect.true(True)
:7 expect.eq([3, 4], [3, 4])
`
	if got := report.String(); got != want {
		t.Errorf("plan reports\n%s\nwant\n%s", got, want)
	}
	if res.Result.Passed != 2 || res.Result.Undecided != 3 {
		t.Errorf("result %+v, want 2 passed and 3 undecided (two checks, one branch)", res.Result)
	}
	if res.RunErr == nil || !strings.HasSuffix(res.RunErr.Error(), "order.star:8:11: string < int not implemented") {
		t.Errorf("ordering a string and an int: %v, want Starlark's error at the operator", res.RunErr)
	}
}
