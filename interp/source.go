package interp

import (
	"bytes"
	"fmt"
	"os"
	"unicode/utf8"
)

// readSource reads a playbook or a loaded file. Starlark's scanner takes a
// NUL byte for the end of the file and would run only what comes before
// it, so a file that holds one is refused, at the position of the first.
func readSource(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		line := bytes.Count(data[:i], []byte("\n")) + 1
		col := utf8.RuneCount(data[bytes.LastIndexByte(data[:i], '\n')+1:i]) + 1
		return nil, &Error{Pos: fmt.Sprintf("%s:%d:%d", path, line, col),
			Msg: "the file holds a NUL byte (\\x00); a playbook is text: remove it"}
	}
	return data, nil
}
