package model_test

import (
	"net"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/model"
)

// The parsers of names, addresses, destinations and tables a playbook
// gives: none may panic, and what each accepts must be what the kernel
// takes, or parse back to itself. Seeds are in testdata/fuzz; `make fuzz`
// runs each target for a while.

func FuzzValidLinkName(f *testing.F) {
	for _, s := range []string{"eth0", "lxcbr0.1", "veth-ns1", "", ".", "a/b", "a:b", "a b", "br\u00a0", "brà", "eth%d", "a\x00b", "abcdefghijklmnop"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if model.ValidLinkName(name) != nil {
			return
		}
		// dev_valid_name, and no template for a name the kernel picks.
		if name == "" || len(name) > 15 || name == "." || name == ".." {
			t.Fatalf("ValidLinkName(%q) accepts a name the kernel refuses", name)
		}
		for i := 0; i < len(name); i++ {
			if c := name[i]; c == '/' || c == ':' || c == '%' || c == 0 || c >= '\t' && c <= '\r' || c == ' ' || c == 0xa0 {
				t.Fatalf("ValidLinkName(%q) accepts byte 0x%02x", name, c)
			}
		}
	})
}

func FuzzValidNetnsName(f *testing.F) {
	for _, s := range []string{"ns1", "star-sw", "host", "", ".", "..", "a/b", "a\x00", strings.Repeat("n", 256)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if model.ValidNetnsName(name) != nil {
			return
		}
		if name == "" || name == "host" || name == "." || name == ".." || len(name) > 255 || strings.ContainsAny(name, "/\x00") {
			t.Fatalf("ValidNetnsName(%q) accepts a name that is no file name under /run/netns, or host", name)
		}
	})
}

func FuzzParseCIDR(f *testing.F) {
	for _, s := range []string{"192.168.10.11/24", "fd00::1/64", "10.0.0.1", "10.0.0.0/33", "::ffff:10.0.0.1/120", "", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := model.ParseCIDR(s)
		if err != nil {
			if !strings.Contains(err.Error(), "does not parse") {
				t.Fatalf("ParseCIDR(%q) error %q does not say so", s, err)
			}
			return
		}
		again, err := model.ParseCIDR(n.String())
		if err != nil || again.String() != n.String() {
			t.Fatalf("ParseCIDR(%q) = %s, which parses back as %v, %v", s, n, again, err)
		}
		if b := model.Broadcast(n); b != nil && !n.Contains(b) {
			t.Fatalf("the broadcast %s of %s is outside it", b, n)
		}
	})
}

func FuzzCanonicalDst(f *testing.F) {
	for _, s := range []string{"default", "10.1.2.3/8", "10.0.0.1", "fd00::/64", "2001:db8::1", "10.0.0.0/33", "defaults", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := model.CanonicalDst(s)
		if err != nil {
			return
		}
		if again, err := model.CanonicalDst(c); err != nil || again != c {
			t.Fatalf("CanonicalDst(%q) = %q, and again %q, %v", s, c, again, err)
		}
		if dst, err := model.ParseDst(c); err != nil || (dst == nil) != (c == "default") {
			t.Fatalf("ParseDst(%q) = %v, %v", c, dst, err)
		} else if dst != nil {
			if _, n, err := net.ParseCIDR(c); err != nil || n.String() != c {
				t.Fatalf("CanonicalDst(%q) = %q, which is not a prefix in its own right", s, c)
			}
		}
	})
}

func FuzzParseTable(f *testing.F) {
	for _, s := range []string{"main", "local", "default", "100", "0", "-1", "4294967295", "4294967296", "+5", " 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := model.ParseTable(s)
		if err != nil {
			return
		}
		if id < 1 || id > 1<<32-1 {
			t.Fatalf("ParseTable(%q) = %d, outside the table ids Linux keeps in 32 bits", s, id)
		}
		if again, err := model.ParseTable(model.TableName(id)); err != nil || again != id {
			t.Fatalf("ParseTable(TableName(%d)) = %d, %v", id, again, err)
		}
	})
}
