package model

import "time"

// ThroughputResult is what the receiver of a throughput run counted: the
// bytes that arrived and over how long. Known is false when only the
// kernel could tell (a plan).
type ThroughputResult struct {
	Bytes   int64
	Elapsed time.Duration
	Known   bool
}

// Mbps is the rate the receiver saw, in megabits (10^6 bits) per second.
func (r ThroughputResult) Mbps() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) * 8 / r.Elapsed.Seconds() / 1e6
}
