package interp

import (
	"reflect"

	"github.com/nsplay/nsplay/builtins"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Starlark orders only values of one type, so in a plan `t.mbps < 9` on
// an unknown would stop the playbook. exec compiles every ordered
// comparison (<, <=, >, >=) as a call of builtins.CompareName instead,
// which orders known values as Starlark does and gives an unknown for an
// unknown; run and plan execute the same program.

// exec parses, compiles and runs one playbook file.
func exec(thread *starlark.Thread, path string, src []byte, predeclared starlark.StringDict) (starlark.StringDict, error) {
	f, err := fileOptions.Parse(path, src, 0)
	if err != nil {
		return nil, err
	}
	syntax.Walk(f, func(n syntax.Node) bool {
		if n != nil { // Walk ends each node with f(nil)
			orderedComparisonsIn(reflect.ValueOf(n).Elem())
		}
		return true
	})
	prog, err := starlark.FileProgram(f, predeclared.Has)
	if err != nil {
		return nil, err
	}
	g, err := prog.Init(thread, predeclared)
	g.Freeze()
	return g, err
}

var exprType = reflect.TypeFor[syntax.Expr]()

// orderedComparisonsIn replaces the ordered comparisons among the direct
// children of a syntax node (a struct): Walk then visits the calls made of
// them, and so their operands.
func orderedComparisonsIn(node reflect.Value) {
	for i := range node.NumField() {
		field := node.Field(i)
		switch {
		case !field.CanSet():
		case field.Type() == exprType:
			replaceComparison(field)
		case field.Kind() == reflect.Slice && field.Type().Elem() == exprType:
			for j := range field.Len() {
				replaceComparison(field.Index(j))
			}
		}
	}
}

// replaceComparison turns `x < y` in e into `<compare>("<", x, y)`.
func replaceComparison(e reflect.Value) {
	b, ok := e.Interface().(*syntax.BinaryExpr)
	if !ok || (b.Op != syntax.LT && b.Op != syntax.LE && b.Op != syntax.GT && b.Op != syntax.GE) {
		return
	}
	op := &syntax.Literal{Token: syntax.STRING, TokenPos: b.OpPos, Raw: `"` + b.Op.String() + `"`, Value: b.Op.String()}
	_, end := b.Y.Span()
	e.Set(reflect.ValueOf(&syntax.CallExpr{Fn: &syntax.Ident{NamePos: b.OpPos, Name: builtins.CompareName},
		Lparen: b.OpPos, Args: []syntax.Expr{op, b.X, b.Y}, Rparen: end}))
}
