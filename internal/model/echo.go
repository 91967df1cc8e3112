package model

import (
	"net"
	"time"
)

// Echo is one pair of a batch reachability check (expect.all_reachable):
// an ICMP echo request from namespace From to address To.
type Echo struct {
	From NSRef
	To   net.IP
}

// EchoResult is what came of one Echo: whether a request was answered
// and the round trip of the one that was. Known is false when only the
// kernel could tell the round trip (a plan): Answered is then what the
// model decides.
type EchoResult struct {
	Answered bool
	RTT      time.Duration
	Known    bool
}
