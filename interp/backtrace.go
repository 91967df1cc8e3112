package interp

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
)

// repeatsShown is how many times a backtrace shows the same line in a row
// before it says how many more there were.
const repeatsShown = 3

// backtrace is Starlark's backtrace of an error, with a line that repeats
// (a deep recursion) shown three times and then counted, as Python does:
// "[Previous line repeated 99996 more times]".
func backtrace(e *starlark.EvalError) string {
	stack := e.CallStack
	suffix := ""
	if last := len(stack) - 1; last >= 0 && stack[last].Pos.Filename() == "<builtin>" {
		suffix = " in " + stack[last].Name
		stack = stack[:last]
	}
	var out strings.Builder
	if len(stack) > 0 {
		out.WriteString("Traceback (most recent call last):\n")
	}
	for i := 0; i < len(stack); {
		line := fmt.Sprintf("  %s: in %s\n", stack[i].Pos, stack[i].Name)
		n := 1
		for i+n < len(stack) && fmt.Sprintf("  %s: in %s\n", stack[i+n].Pos, stack[i+n].Name) == line {
			n++
		}
		out.WriteString(strings.Repeat(line, min(n, repeatsShown)))
		if n > repeatsShown {
			fmt.Fprintf(&out, "  [Previous line repeated %d more times]\n", n-repeatsShown)
		}
		i += n
	}
	fmt.Fprintf(&out, "Error%s: %s", suffix, e.Msg)
	return out.String()
}
