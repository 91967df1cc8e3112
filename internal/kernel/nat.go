package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/nsplay/nsplay/internal/model"
	"golang.org/x/sys/unix"
)

// NAT rules go through nftables' netlink interface (google/nftables), into
// a lab's table of family inet (see model.NATTable). A rule carries its
// text as its comment (what `nft list ruleset` shows as comment "..."),
// which is how NATRules reads it back.
//
// The nftables socket is made inside n.In, like nsplay's other netlink
// sockets, and stays in n until n is closed (a star of a thousand hosts
// adds a thousand ports to its table of family bridge):
// nftables.WithNetNSFd would have the socket package switch a thread of
// its own, outside nsplay's one switch helper.

// natChains are the chains of a lab's table, in the order NATRules lists
// them: destination NAT before routing, source NAT after it.
var natChains = []struct {
	name     string
	hook     *nftables.ChainHook
	priority *nftables.ChainPriority
}{
	{"prerouting", nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest},
	{"postrouting", nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource},
}

// nft runs fn on n's connection to nftables, opening it the first time.
func (n *NS) nft(fn func(c *nftables.Conn) error) error {
	if err := n.Err(); err != nil {
		return err
	}
	if n.nftConn == nil {
		var c *nftables.Conn
		err := n.In(func() (err error) {
			c, err = nftables.New(nftables.AsLasting())
			return err
		})
		if err != nil {
			return fmt.Errorf("open nftables in %s: %w", n, err)
		}
		n.nftConn = c
	}
	return fn(n.nftConn)
}

// AddNATRule adds a rule to the end of its chain, making the table and the
// chain when they are not there, in one batch.
func (n *NS) AddNATRule(r model.NATRule) error {
	if err := r.Check(); err != nil {
		return err
	}
	exprs, chain, err := natExprs(r)
	if err != nil {
		return err
	}
	return n.nft(func(c *nftables.Conn) error {
		t := c.AddTable(&nftables.Table{Name: r.TableName(), Family: nftables.TableFamilyINet})
		var ch *nftables.Chain
		for _, nc := range natChains {
			if nc.name == chain {
				ch = c.AddChain(&nftables.Chain{Name: nc.name, Table: t, Type: nftables.ChainTypeNAT, Hooknum: nc.hook, Priority: nc.priority})
			}
		}
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: exprs, UserData: userdata.AppendString(nil, userdata.TypeComment, r.Rule())})
		if err := c.Flush(); err != nil {
			return fmt.Errorf("nft add rule inet %s %s in %s: %w", r.TableName(), r.Rule(), n, err)
		}
		return nil
	})
}

// DeleteNATTable deletes a lab's table and its rules; one that is not
// there is ErrNotFound.
func (n *NS) DeleteNATTable(table string) error {
	return n.deleteTable(&nftables.Table{Name: table, Family: nftables.TableFamilyINet})
}

// deleteTable deletes a table of n and what is in it; one that is not
// there is ErrNotFound.
func (n *NS) deleteTable(t *nftables.Table) error {
	return n.nft(func(c *nftables.Conn) error {
		c.DelTable(t)
		return nftError(c.Flush(), t, n)
	})
}

// NATRules lists the rules of a lab's table by their comments, chain by
// chain; a rule without one (added by hand) is named by its handle.
func (n *NS) NATRules(table string) ([]string, error) {
	var rules []string
	err := n.nft(func(c *nftables.Conn) error {
		t, err := c.ListTableOfFamily(table, nftables.TableFamilyINet)
		if err != nil {
			return nftError(err, &nftables.Table{Name: table, Family: nftables.TableFamilyINet}, n)
		}
		for _, nc := range natChains {
			got, err := c.GetRules(t, &nftables.Chain{Name: nc.name, Table: t})
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			if err != nil {
				return fmt.Errorf("list chain %s of table inet %s in %s: %w", nc.name, table, n, err)
			}
			for _, r := range got {
				text, ok := userdata.GetString(r.UserData, userdata.TypeComment)
				if !ok {
					text = fmt.Sprintf("%s: a rule nsplay did not add (handle %d)", nc.name, r.Handle)
				}
				rules = append(rules, text)
			}
		}
		return nil
	})
	return rules, err
}

// nftError says what went wrong with table t of n: ErrNotFound when
// there is no such table, ErrUnsupported when the kernel has no nftables
// for its family.
func nftError(err error, t *nftables.Table, n *NS) error {
	family := tableFamilies[t.Family]
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ENOENT):
		return notFoundError{fmt.Errorf("there is no table %s %s in %s: %w", family.name, t.Name, n, err)}
	case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EAFNOSUPPORT):
		return fmt.Errorf("table %s %s in %s: this kernel cannot %s: %w", family.name, t.Name, n, family.missing, model.ErrUnsupported)
	}
	return fmt.Errorf("table %s %s in %s: %w", family.name, t.Name, n, err)
}

// tableFamilies are the families of the lab's tables: nft's word for
// each, and what a kernel without it cannot do.
var tableFamilies = map[nftables.TableFamily]struct{ name, missing string }{
	nftables.TableFamilyINet:   {"inet", "make nftables tables for IPv4 and IPv6 (CONFIG_NF_TABLES_INET)"},
	nftables.TableFamilyBridge: {"bridge", "filter bridged frames with nftables (CONFIG_NF_TABLES_BRIDGE)"},
}

// natExprs translates a rule into the expressions nft would make of its
// text, and names its chain.
func natExprs(r model.NATRule) ([]expr.Any, string, error) {
	switch o := r.(type) {
	case model.Masquerade:
		exprs := matchName(expr.MetaKeyOIFNAME, o.Out)
		if o.Src != "" {
			_, prefix, err := net.ParseCIDR(o.Src)
			if err != nil {
				return nil, "", err
			}
			exprs = append(exprs, matchSource(prefix)...)
		}
		return append(exprs, &expr.Masq{}), "postrouting", nil
	case model.PortForward:
		ip, port, err := o.Target()
		if err != nil {
			return nil, "", err
		}
		var exprs []expr.Any
		if o.Dev != "" {
			exprs = matchName(expr.MetaKeyIIFNAME, o.Dev)
		}
		proto := byte(unix.IPPROTO_TCP)
		if o.Proto == "udp" {
			proto = unix.IPPROTO_UDP
		}
		family, addr := familyOf(ip)
		exprs = append(exprs,
			// fib daddr type local: to one of the namespace's own addresses.
			&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.NativeEndian.AppendUint32(nil, unix.RTN_LOCAL)},
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{family}},
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, uint16(o.Port))},
			&expr.Immediate{Register: 1, Data: addr},
			&expr.Immediate{Register: 2, Data: binary.BigEndian.AppendUint16(nil, uint16(port))},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: uint32(family), RegAddrMin: 1, RegProtoMin: 2, Specified: true},
		)
		return exprs, "prerouting", nil
	}
	return nil, "", fmt.Errorf("the kernel backend cannot make a rule of %T: %w", r, model.ErrUnsupported)
}

// matchName matches an interface name (iifname, oifname) as nft does: the
// name padded with NULs to IFNAMSIZ.
func matchName(key expr.MetaKey, name string) []expr.Any {
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(name)}}
}

// matchSource matches a source prefix: `ip saddr 10.0.0.0/24`.
func matchSource(prefix *net.IPNet) []expr.Any {
	family, addr := familyOf(prefix.IP)
	offset := uint32(12) // the IPv4 header's source address
	if family == unix.NFPROTO_IPV6 {
		offset = 8
	}
	n := uint32(len(addr))
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{family}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: n},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: []byte(prefix.Mask), Xor: make([]byte, n)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr},
	}
}

// familyOf is an address's netfilter family and its bytes.
func familyOf(ip net.IP) (byte, []byte) {
	if ip4 := ip.To4(); ip4 != nil {
		return unix.NFPROTO_IPV4, ip4
	}
	return unix.NFPROTO_IPV6, ip.To16()
}
