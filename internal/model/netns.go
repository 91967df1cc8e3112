package model

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// NetnsAdd creates a named namespace, like `ip netns add`.
type NetnsAdd struct {
	Name string `json:"name"`
}

func (o NetnsAdd) Text() string { return "ip netns add " + o.Name }
func (o NetnsAdd) Inverse() Op  { return NetnsDel{Name: o.Name} }

// NetnsDel removes a named namespace, like `ip netns del`; the links in it
// go with it.
//
// Along, when not nil, are the veth ends in other namespaces that go with
// it and are to be waited for, as the caller's journal has them (leaving
// out those in a namespace that ends with the run): a backend that waits
// for the kernel to remove such ends then need not read the namespace's
// links before deleting it. Teardown deletes a thousand namespaces, and
// while the kernel frees those deleted before, such reads cost it more
// than the deletions. The backend waits for ends named here by name alone:
// were the journal wrong and another link to hold such a name, the wait
// would run to its limit. Ends not named (one an exec_in command made) are
// not waited for. A hint for this deletion only: never journaled.
type NetnsDel struct {
	Name  string    `json:"name"`
	Along []LinkRef `json:"-"`
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

// ValidNetnsName rejects names `ip netns add` would reject, "host",
// which playbooks use for the start namespace, and names a step line or a
// shell would not show as one word.
func ValidNetnsName(name string) error {
	switch {
	case name == "":
		return errors.New("namespace name is empty")
	case name == "host":
		return errors.New(`"host" names the namespace nsplay started in; give the new namespace another name`)
	case name == "." || name == ".." || strings.ContainsRune(name, '/'):
		return fmt.Errorf("namespace name %q is not allowed: it must not contain '/' or be '.' or '..'", name)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("namespace name %q holds a NUL byte, which no file name can", name)
	case strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0:
		return fmt.Errorf("namespace name %q holds white space or a control character, which step lines, shells and `ip netns exec` would split or hide; use letters, digits, '.', '-' and '_'", name)
	case len(name) > 255:
		return fmt.Errorf("namespace name %q is %d bytes; at most 255 fit a file name", name, len(name))
	}
	return nil
}

// maxLinkName is IFNAMSIZ-1: the kernel keeps 16 bytes including the NUL.
const maxLinkName = 15

// ValidLinkName checks a name the way the kernel's dev_valid_name does, so
// the user learns what is wrong before the kernel answers with a bare
// EINVAL. The kernel tests each byte with its own isspace(), whose table
// (lib/ctype.c) is Latin-1: besides the ASCII white space it counts 0xa0,
// so a name holding U+00A0 or any UTF-8 character with an 0xa0 byte (à,
// Ġ, ...) is refused. A NUL byte would end the name where the kernel reads
// it, and a '%' makes a template for a name the kernel picks (eth%d),
// either way another link than the one asked for.
func ValidLinkName(name string) error {
	switch {
	case name == "":
		return errors.New("interface name is empty")
	case len(name) > maxLinkName:
		return fmt.Errorf("interface name %q is %d bytes; Linux allows at most %d", name, len(name), maxLinkName)
	case name == "." || name == "..":
		return fmt.Errorf("interface name %q is not allowed", name)
	}
	for _, c := range []byte(name) {
		switch {
		case c == 0:
			return fmt.Errorf("interface name %q holds a NUL byte, which Linux does not allow", name)
		case c == 0xa0:
			return fmt.Errorf("interface name %q contains '/', ':' or white space, which Linux does not allow: the kernel takes its byte 0xa0 (part of U+00A0, à, Ġ and other characters) for a space", name)
		case c == '%':
			return fmt.Errorf("interface name %q contains '%%', which Linux takes for a template of a name it picks itself (eth%%d is eth0, eth1, ...); nsplay needs the name as given", name)
		case c == '/' || c == ':' || kernelSpace(c):
			return fmt.Errorf("interface name %q contains '/', ':' or white space, which Linux does not allow", name)
		}
	}
	return nil
}

// kernelSpace is the kernel's isspace(): \t \n \v \f \r, space, and 0xa0
// (no-break space in its Latin-1 table).
func kernelSpace(c byte) bool { return c >= '\t' && c <= '\r' || c == ' ' || c == 0xa0 }
