package lab_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/model"
	"github.com/nsplay/nsplay/internal/testenv"
)

// faulty opens the kernel backend with no fault yet; a test sets FailAt.
func faulty(t *testing.T) *testenv.Faulty {
	t.Helper()
	f, err := testenv.NewFaulty(paths, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

// TestDoErrorNamesTheOperation: when the backend refuses a change, Do's
// error names the change as its step line would, and keeps the backend's
// error in the chain.
func TestDoErrorNamesTheOperation(t *testing.T) {
	testenv.RequireRoot(t)
	f := faulty(t)
	l := openLab(t, newLabName(t, newBackend(t)), f)
	op := model.NetnsAdd{Name: uniq("ns")}
	f.FailAt = 1
	_, err := l.Do(op)
	if !errors.Is(err, testenv.ErrInjected) || !strings.HasPrefix(err.Error(), op.Text()+": ") {
		t.Errorf("Do(%s) = %v, want the injected fault after %q", op.Text(), err, op.Text()+": ")
	}
	if len(l.Namespaces()) != 0 {
		t.Errorf("the lab keeps %v after the failed change", l.Namespaces())
	}
}
