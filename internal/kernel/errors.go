package kernel

import (
	"errors"

	"github.com/nsplay/nsplay/internal/model"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ErrNotFound reports that a link, address, route or namespace the caller
// named does not exist. Callers match it with errors.Is.
var ErrNotFound = model.ErrNotFound

// ErrExists reports that an object of that name already exists.
var ErrExists = model.ErrExists

// ErrGone reports the use of a namespace handle whose namespace is gone:
// the handle was closed or deleted, or its name in the folder of named
// namespaces was removed or given to another namespace. Callers match it with errors.Is.
var ErrGone = errors.New("namespace is gone")

// goneError says in full why a namespace handle may not be used, and
// matches ErrGone.
type goneError string

func (e goneError) Error() string { return string(e) }
func (e goneError) Unwrap() error { return ErrGone }

// ErrDuplicateAddr reports that duplicate address detection found an IPv6
// address on another host of its link.
var ErrDuplicateAddr = errors.New("duplicate address")

// ValidLinkName checks a name the way the kernel's dev_valid_name does.
var ValidLinkName = model.ValidLinkName

// classify maps errors from netlink to the package's sentinel errors, and
// the errors of kernel limits to what they mean (limits.go), while keeping
// the original in the chain.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var lnf netlink.LinkNotFoundError
	switch {
	case errors.As(err, &lnf), errors.Is(err, unix.ENODEV), errors.Is(err, unix.ESRCH), errors.Is(err, unix.ENOENT),
		errors.Is(err, unix.EADDRNOTAVAIL): // EADDRNOTAVAIL: deleting an address that is not there
		return notFoundError{err}
	case errors.Is(err, unix.EEXIST):
		return existsError{err}
	}
	return explainLimit(err)
}

type notFoundError struct{ err error }

func (e notFoundError) Error() string   { return e.err.Error() }
func (e notFoundError) Unwrap() []error { return []error{e.err, ErrNotFound} }
func (e existsError) Error() string     { return e.err.Error() }
func (e existsError) Unwrap() []error   { return []error{e.err, ErrExists} }

type existsError struct{ err error }

// duplicateError says which address duplicate address detection found
// elsewhere, and what to do; it matches ErrDuplicateAddr.
type duplicateError string

func (e duplicateError) Error() string { return string(e) }
func (e duplicateError) Unwrap() error { return ErrDuplicateAddr }
