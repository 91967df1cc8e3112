package model

import (
	"fmt"
	"net"
	"strconv"
)

// NAT rules go into one nftables table of family inet per lab, in each
// namespace the lab has rules in: deleting the table removes exactly the
// lab's rules, and nothing of other tools. Masquerade goes into its chain
// postrouting (type nat, priority srcnat), PortForward into prerouting
// (priority dstnat). Each rule carries its Rule text as its comment, which
// is how NATRules reads the rules back.

// LabTable is the name of a lab's nftables tables: its NAT rules' (family
// inet) and the one that quiets MLD on its bridges (family bridge,
// MLDQuiet).
func LabTable(lab string) string { return "nsplay-" + lab }

// NATRule is an op that adds one rule to a lab's table.
type NATRule interface {
	InNamespace
	// TableName is the lab's table the rule goes in.
	TableName() string
	// Rule is the chain and the rule as `nft add rule inet TABLE` takes
	// them: `postrouting oifname eth1 masquerade`.
	Rule() string
	// Check tells what is wrong with the rule before a backend sees it.
	Check() error
}

// Masquerade rewrites the source of what leaves link Out to Out's address
// (from prefix Src only, when it is given), so that replies come back to
// the namespace, which passes them on to the sender.
type Masquerade struct {
	NS    NSRef  `json:"ns"`
	Table string `json:"table"`
	Out   string `json:"out"`
	Src   string `json:"src,omitempty"` // a prefix as the kernel writes it: "10.0.0.0/24"
}

func (o Masquerade) Text() string      { return nftRuleText(o) }
func (o Masquerade) Inverse() Op       { return NATTableDel{NS: o.NS, Table: o.Table} }
func (o Masquerade) Namespace() NSRef  { return o.NS }
func (o Masquerade) TableName() string { return o.Table }

func (o Masquerade) Rule() string {
	rule := "postrouting oifname " + o.Out + " "
	if o.Src != "" {
		rule += ipFamily(o.Src) + " saddr " + o.Src + " "
	}
	return rule + "masquerade"
}

func (o Masquerade) Check() error {
	if err := ValidLinkName(o.Out); err != nil {
		return fmt.Errorf("out: %w", err)
	}
	if o.Src == "" {
		return nil
	}
	_, err := SrcPrefix(o.Src)
	return err
}

// SrcPrefix parses a source prefix ("10.0.0.0/24", or an address for
// itself alone) and writes it as the kernel does.
func SrcPrefix(s string) (string, error) {
	dst, err := ParseDst(s)
	if err != nil || dst == nil {
		return "", fmt.Errorf("src=%q is not a prefix like 10.0.0.0/24 or an address", s)
	}
	return dst.String(), nil
}

// PortForward sends the connections that come to port Port of the
// namespace's own addresses (arriving on link Dev, when it is given) on to
// To, "addr:port" (destination NAT).
type PortForward struct {
	NS    NSRef  `json:"ns"`
	Table string `json:"table"`
	Proto string `json:"proto"` // "tcp" or "udp"
	Port  int    `json:"port"`
	To    string `json:"to"` // "10.0.1.2:80", "[fd00::2]:80"
	Dev   string `json:"dev,omitempty"`
}

func (o PortForward) Text() string      { return nftRuleText(o) }
func (o PortForward) Inverse() Op       { return NATTableDel{NS: o.NS, Table: o.Table} }
func (o PortForward) Namespace() NSRef  { return o.NS }
func (o PortForward) TableName() string { return o.Table }

func (o PortForward) Rule() string {
	rule := "prerouting "
	if o.Dev != "" {
		rule += "iifname " + o.Dev + " "
	}
	return rule + fmt.Sprintf("fib daddr type local %s dport %d dnat %s to %s", o.Proto, o.Port, ipFamily(o.To), o.To)
}

func (o PortForward) Check() error {
	if o.Proto != "tcp" && o.Proto != "udp" {
		return fmt.Errorf("proto=%q: use \"tcp\" or \"udp\"", o.Proto)
	}
	if o.Port < 1 || o.Port > 65535 {
		return fmt.Errorf("port %d is not between 1 and 65535", o.Port)
	}
	if _, _, err := o.Target(); err != nil {
		return err
	}
	if o.Dev != "" {
		if err := ValidLinkName(o.Dev); err != nil {
			return fmt.Errorf("dev: %w", err)
		}
	}
	return nil
}

// Target is where the connections go: To's address and port.
func (o PortForward) Target() (net.IP, int, error) {
	bad := fmt.Errorf("to=%q is not \"addr:port\": write it like \"10.0.1.2:80\" or \"[fd00::2]:80\"", o.To)
	host, port, err := net.SplitHostPort(o.To)
	if err != nil {
		return nil, 0, bad
	}
	ip := net.ParseIP(host)
	n, err := strconv.Atoi(port)
	if ip == nil || err != nil || n < 1 || n > 65535 {
		return nil, 0, bad
	}
	return norm(ip), n, nil
}

// NATTableDel deletes a lab's table, and so all its rules, in a namespace.
type NATTableDel struct {
	NS    NSRef  `json:"ns"`
	Table string `json:"table"`
}

func (o NATTableDel) Text() string     { return inNS(o.NS, "nft delete table inet "+o.Table) }
func (o NATTableDel) Inverse() Op      { return nil }
func (o NATTableDel) Namespace() NSRef { return o.NS }

var _ = register("nat.masquerade", Masquerade{}) && register("nat.port_forward", PortForward{}) &&
	register("nat.table_del", NATTableDel{})

func nftRuleText(r NATRule) string {
	return inNS(r.Namespace(), "nft add rule inet "+r.TableName()+" "+r.Rule())
}

// ipFamily is nft's word for the IP version of an address, a prefix or an
// "addr:port": "ip" or "ip6".
func ipFamily(s string) string {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	if ip, _, err := net.ParseCIDR(s); err == nil {
		s = ip.String()
	}
	if ip := net.ParseIP(s); ip != nil && ip.To4() == nil {
		return "ip6"
	}
	return "ip"
}
