// Command gendoc writes the table of builtins (builtins/reference.go) into
// a page between its markers: `go run ./builtins/gendoc docs/language.md`,
// which `make docs` and `go generate ./builtins` run.
package main

import (
	"fmt"
	"os"

	"github.com/nsplay/nsplay/builtins"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendoc PAGE.md")
		os.Exit(2)
	}
	if err := write(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gendoc:", err)
		os.Exit(1)
	}
}

func write(page string) error {
	doc, err := os.ReadFile(page)
	if err != nil {
		return err
	}
	out, err := builtins.SpliceReference(string(doc))
	if err != nil {
		return fmt.Errorf("%s: %w", page, err)
	}
	if out == string(doc) {
		return nil
	}
	return os.WriteFile(page, []byte(out), 0o644)
}
