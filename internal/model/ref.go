// Package model is nsplay's operation model: typed references to the things
// a lab is made of (namespaces, links, addresses, routes, files, processes),
// the operations that change them, each with its inverse, its `ip`-style
// text and its JSON form, the live state a backend reports, and the Backend
// interface with its in-memory implementation. The kernel backend lives in
// internal/kernel; nothing in this package touches the machine.
package model

import (
	"errors"
	"fmt"
	"strings"
)

// NSRef names a network namespace: the one nsplay started in (host), one
// mounted under the run directory by name (like `ip netns add`), or one
// known by a path (/proc/PID/ns/net, a bind mount). It is a value: two refs
// to the same namespace are equal, and a ref says nothing of whether the
// namespace exists; handles pair it with the namespace's identity.
type NSRef struct {
	name string // a named namespace
	path string // a namespace known by path
}

// Host is the namespace nsplay started in.
var Host = NSRef{}

// Named refers to the namespace `ip netns add NAME` makes.
func Named(name string) NSRef { return NSRef{name: name} }

// AtPath refers to the namespace a path opens.
func AtPath(path string) NSRef { return NSRef{path: path} }

// IsHost tells whether r is the start namespace.
func (r NSRef) IsHost() bool { return r == Host }

// Name is the namespace's name under the run directory, or "".
func (r NSRef) Name() string { return r.name }

// Path is the path of a namespace known by path, or "".
func (r NSRef) Path() string { return r.path }

// String names the namespace in messages: "host", its name, or its path.
func (r NSRef) String() string {
	switch {
	case r.name != "":
		return r.name
	case r.path != "":
		return r.path
	}
	return "host"
}

// Key is the ref's journal form: "host", "netns:NAME" or "path:PATH".
func (r NSRef) Key() string {
	switch {
	case r.name != "":
		return "netns:" + r.name
	case r.path != "":
		return "path:" + r.path
	}
	return "host"
}

// ParseNSRef reads a ref's Key.
func ParseNSRef(key string) (NSRef, error) {
	kind, arg, _ := strings.Cut(key, ":")
	switch {
	case key == "host":
		return Host, nil
	case kind == "netns" && arg != "":
		return Named(arg), nil
	case kind == "path" && arg != "":
		return AtPath(arg), nil
	}
	return NSRef{}, fmt.Errorf("%q names no namespace: want host, netns:NAME or path:PATH", key)
}

// MarshalText writes the ref as its Key, so JSON holds it as a string.
func (r NSRef) MarshalText() ([]byte, error) { return []byte(r.Key()), nil }

// UnmarshalText reads a Key.
func (r *NSRef) UnmarshalText(b []byte) error {
	ref, err := ParseNSRef(string(b))
	*r = ref
	return err
}

// IP writes `ip` arguments as a user types them to run in the namespace.
func (r NSRef) IP(args string) string {
	switch {
	case r.name != "":
		return "ip -n " + r.name + " " + args
	case r.path != "":
		return "nsenter --net=" + r.path + " ip " + args
	}
	return "ip " + args
}

// LinkRef names a link by its namespace and name.
type LinkRef struct {
	NS   NSRef  `json:"ns"`
	Name string `json:"name"`
}

// Link refers to the link name in namespace ns.
func Link(ns NSRef, name string) LinkRef { return LinkRef{NS: ns, Name: name} }

// String names the link in messages: "eth0 in ns1".
func (r LinkRef) String() string { return r.Name + " in " + r.NS.String() }

// Errors every backend reports, matched with errors.Is.
var (
	// ErrNotFound: the namespace, link, address, route or file is not there.
	ErrNotFound = errors.New("not found")
	// ErrExists: an object of that name or value is there already.
	ErrExists = errors.New("already exists")
	// ErrUnsupported: the backend cannot do this (a plan cannot run commands,
	// a kernel may lack a feature).
	ErrUnsupported = errors.New("not supported")
)
