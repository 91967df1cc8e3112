package kernel

import (
	"bytes"

	"github.com/nsplay/nsplay/internal/model"
)

// output keeps what a command writes to one stream, up to
// model.OutputLimit bytes, and counts the rest, which it reads and drops:
// a command that prints without end must not take nsplay's memory with
// it, nor block on a full pipe.
type output struct {
	buf bytes.Buffer
	cut int64
}

func (o *output) Write(p []byte) (int, error) {
	room := model.OutputLimit - o.buf.Len()
	if len(p) > room {
		o.cut += int64(len(p) - room)
		o.buf.Write(p[:room])
		return len(p), nil
	}
	return o.buf.Write(p)
}
