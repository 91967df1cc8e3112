package testenv

import (
	"errors"
	"fmt"
	"sync"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/model"
)

// ErrInjected is the error a Faulty backend makes its chosen operation
// fail with.
var ErrInjected = errors.New("injected fault")

// Faulty is the kernel backend with a fault on purpose: the FailAt-th
// call of Apply (counting from 1; 0 for none) fails with ErrInjected
// before anything is changed, and every other call is the kernel's. It
// lives in a package only tests import, so that no product build can be
// made to fail on purpose. It records every operation Apply was given, in
// order, so that a test counts the operations of a clean run first and
// then fails each in turn.
type Faulty struct {
	model.Backend
	FailAt int

	mu  sync.Mutex
	ops []model.Op
}

// NewFaulty opens the kernel backend with a fault at the failAt-th
// operation.
func NewFaulty(paths model.Paths, failAt int) (*Faulty, error) {
	b, err := kernel.NewBackend(paths)
	if err != nil {
		return nil, err
	}
	return &Faulty{Backend: b, FailAt: failAt}, nil
}

// Apply fails the FailAt-th operation, and applies every other.
func (f *Faulty) Apply(op model.Op) error {
	f.mu.Lock()
	f.ops = append(f.ops, op)
	n := len(f.ops)
	f.mu.Unlock()
	if n == f.FailAt {
		return fmt.Errorf("%w (operation %d)", ErrInjected, n)
	}
	return f.Backend.Apply(op)
}

// Ops lists the operations Apply was given so far, the failed one too.
func (f *Faulty) Ops() []model.Op {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]model.Op(nil), f.ops...)
}
