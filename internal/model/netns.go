package model

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// NetnsAdd creates a named namespace, like `ip netns add`.
type NetnsAdd struct {
	Name string `json:"name"`
}

func (o NetnsAdd) Text() string { return "ip netns add " + o.Name }
func (o NetnsAdd) Inverse() Op  { return NetnsDel(o) }

// NetnsDel removes a named namespace, like `ip netns del`; the links in it
// go with it.
type NetnsDel struct {
	Name string `json:"name"`
}

func (o NetnsDel) Text() string { return "ip netns del " + o.Name }
func (o NetnsDel) Inverse() Op  { return nil }

// NetnsSetID gives a namespace an id in the host, like `ip netns set`.
type NetnsSetID struct {
	NS NSRef `json:"ns"`
	ID int   `json:"id"`
}

func (o NetnsSetID) Text() string { return "ip netns set " + o.NS.String() + " " + strconv.Itoa(o.ID) }
func (o NetnsSetID) Inverse() Op  { return nil }

var _ = register("netns.add", NetnsAdd{}) && register("netns.del", NetnsDel{}) && register("netns.set_id", NetnsSetID{})

// ValidNetnsName rejects names `ip netns add` would reject, and "host",
// which playbooks use for the start namespace.
func ValidNetnsName(name string) error {
	switch {
	case name == "":
		return errors.New("namespace name is empty")
	case name == "host":
		return errors.New(`"host" names the namespace nsplay started in; give the new namespace another name`)
	case name == "." || name == ".." || strings.ContainsRune(name, '/'):
		return fmt.Errorf("namespace name %q is not allowed: it must not contain '/' or be '.' or '..'", name)
	case len(name) > 255:
		return fmt.Errorf("namespace name %q is %d bytes; at most 255 fit a file name", name, len(name))
	}
	return nil
}

// maxLinkName is IFNAMSIZ-1: the kernel keeps 16 bytes including the NUL.
const maxLinkName = 15

// ValidLinkName checks a name the way the kernel's dev_valid_name does, so
// the user learns what is wrong before the kernel answers with a bare
// EINVAL.
func ValidLinkName(name string) error {
	switch {
	case name == "":
		return errors.New("interface name is empty")
	case len(name) > maxLinkName:
		return fmt.Errorf("interface name %q is %d bytes; Linux allows at most %d", name, len(name), maxLinkName)
	case name == "." || name == "..":
		return fmt.Errorf("interface name %q is not allowed", name)
	case strings.ContainsAny(name, "/: \t\n\r\v\f"):
		return fmt.Errorf("interface name %q contains '/', ':' or white space, which Linux does not allow", name)
	}
	return nil
}
