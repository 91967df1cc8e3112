package model

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Op is one change to a lab. The step line a run prints, the plan's line,
// the journal record and the teardown all come from the same Op value.
type Op interface {
	// Text is the change as a user of `ip` would type it.
	Text() string
	// Inverse is the change that undoes this one, or nil when nothing needs
	// undoing on its own: an attribute of an object the lab created goes
	// with the object.
	Inverse() Op
}

// InNamespace is an op that changes one namespace and says which, so that
// the lab files it under that namespace (teardown leaves what is inside
// the lab's own namespaces to go with them).
type InNamespace interface {
	Op
	Namespace() NSRef
}

// ops maps each op's JSON name to its type, and names each type's name;
// register adds to both.
var (
	ops     = map[string]reflect.Type{}
	opNames = map[reflect.Type]string{}
)

// register makes an op type known to Encode and Decode by name. Each op
// file registers its types in a var block, so adding an op is one file.
func register(name string, op Op) bool {
	t := reflect.TypeOf(op)
	if _, dup := ops[name]; dup {
		panic("model: op " + name + " registered twice")
	}
	ops[name], opNames[t] = t, name
	return true
}

// OpName is the name an op is journalled under ("link.add").
func OpName(op Op) string { return opNames[reflect.TypeOf(op)] }

// encoded is an op's JSON form: {"op": "link.add", "args": {...}}.
type encoded struct {
	Op   string          `json:"op"`
	Args json.RawMessage `json:"args"`
}

// Encode writes an op as JSON.
func Encode(op Op) ([]byte, error) {
	name := OpName(op)
	if name == "" {
		return nil, fmt.Errorf("model: %T is not a registered op", op)
	}
	args, err := json.Marshal(op)
	if err != nil {
		return nil, err
	}
	// What json.Marshal(encoded{name, args}) writes, without reading args
	// again: an op is journalled before each change (registered names need
	// no escaping).
	out := make([]byte, 0, len(`{"op":"","args":}`)+len(name)+len(args))
	out = append(append(append(out, `{"op":"`...), name...), `","args":`...)
	return append(append(out, args...), '}'), nil
}

// Decode reads what Encode wrote.
func Decode(data []byte) (Op, error) {
	var e encoded
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, err
	}
	t, ok := ops[e.Op]
	if !ok {
		return nil, fmt.Errorf("unknown operation %q (known: %s)", e.Op, strings.Join(OpNames(), ", "))
	}
	v := reflect.New(t)
	if err := json.Unmarshal(e.Args, v.Interface()); err != nil {
		return nil, fmt.Errorf("operation %s: %w", e.Op, err)
	}
	return v.Elem().Interface().(Op), nil
}

// OpNames lists the registered ops, sorted.
func OpNames() []string {
	names := make([]string, 0, len(ops))
	for n := range ops {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Recorded is an op inside a JSON document (a journal line, an event).
type Recorded struct{ Op Op }

func (r Recorded) MarshalJSON() ([]byte, error) { return Encode(r.Op) }

func (r *Recorded) UnmarshalJSON(b []byte) error {
	op, err := Decode(b)
	r.Op = op
	return err
}
