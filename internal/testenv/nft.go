package testenv

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// NftRule is one rule as `nft -j list ruleset` prints it.
type NftRule struct {
	Family  string            `json:"family"`
	Table   string            `json:"table"`
	Chain   string            `json:"chain"`
	Comment string            `json:"comment"`
	Expr    []json.RawMessage `json:"expr"`
}

// NftChain is one chain as `nft -j list ruleset` prints it.
type NftChain struct {
	Family string `json:"family"`
	Table  string `json:"table"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Hook   string `json:"hook"`
	Prio   int    `json:"prio"`
}

// Ruleset is what nftables holds in a namespace, as nft reads it.
type Ruleset struct {
	Tables []string // "inet nsplay-x"
	Chains []NftChain
	Rules  []NftRule
}

// Nft reads the ruleset of a named namespace ("" for the test's own) with
// `nft -j list ruleset`, an observer independent of nsplay. It needs the
// nft command (Debian: apt-get install nftables).
func Nft(t testing.TB, netns string) Ruleset {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatal("the tests read nftables with nft: install it (apt-get install -y nftables)")
	}
	cmd := exec.Command("nft", "-j", "list", "ruleset")
	if netns != "" {
		cmd = exec.Command("ip", "netns", "exec", netns, "nft", "-j", "list", "ruleset")
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	var doc struct {
		Nftables []struct {
			Table *struct {
				Family string `json:"family"`
				Name   string `json:"name"`
			} `json:"table"`
			Chain *NftChain `json:"chain"`
			Rule  *NftRule  `json:"rule"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("nft -j list ruleset printed %s: %v", out, err)
	}
	var rs Ruleset
	for _, o := range doc.Nftables {
		switch {
		case o.Table != nil:
			rs.Tables = append(rs.Tables, o.Table.Family+" "+o.Table.Name)
		case o.Chain != nil:
			rs.Chains = append(rs.Chains, *o.Chain)
		case o.Rule != nil:
			rs.Rules = append(rs.Rules, *o.Rule)
		}
	}
	return rs
}

// addNftTables records the nftables tables of the test's own namespace,
// when nft is there to read them (the NAT tests need it and say so).
func (s Snapshot) addNftTables(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		return
	}
	for _, table := range Nft(t, "").Tables {
		s["nft table "+table] = ""
	}
}

// addSysctls records the sysctls of the test's own namespace that a lab
// may set there with --allow-host: those directly under net.ipv4, and
// net.ipv4.conf and net.ipv6.conf for all and default.
func (s Snapshot) addSysctls(t testing.TB) {
	t.Helper()
	for _, dir := range []string{"ipv4", "ipv4/conf/all", "ipv4/conf/default", "ipv6/conf/all", "ipv6/conf/default"} {
		entries, err := os.ReadDir("/proc/sys/net/" + dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			path := "/proc/sys/net/" + dir + "/" + e.Name()
			if data, err := os.ReadFile(path); err == nil && !e.IsDir() {
				s["sysctl "+path] = strings.TrimSpace(string(data))
			}
		}
	}
}
