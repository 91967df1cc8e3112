package model

import (
	"context"
	"time"
)

// EchoAll decides every echo in the model, one after the other, as Ping
// does: answered when the model carries the request there and its reply
// back; round trips only the kernel knows.
func (m *Memory) EchoAll(ctx context.Context, echoes []Echo, _ time.Duration) ([]EchoResult, error) {
	out := make([]EchoResult, len(echoes))
	for i, e := range echoes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ns, err := m.space(e.From)
		if err != nil {
			return nil, err
		}
		if err := linkLocalEcho(e.To); err != nil {
			return nil, err
		}
		out[i].Answered = m.trace(ns, norm(e.To)) == ""
	}
	return out, nil
}
