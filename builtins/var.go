package builtins

//	var(name, default)
//	    the value given on the command line as -D name=value, converted to the
//	    type of default (int, float, bool, string); default when not given

import (
	"errors"
	"fmt"
	"strconv"

	"go.starlark.net/starlark"
)

func varFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var def starlark.Value
	if err := unpack(b.Name(), args, kwargs, 2, "name", &name, "default", &def); err != nil {
		return nil, err
	}
	env, err := envOf(thread)
	if err != nil {
		return nil, err
	}
	env.UsedVars[name] = true
	s, given := env.Vars[name]
	if !given {
		return def, nil
	}
	return convertVar(name, s, def)
}

// convertVar converts the -D value s of variable name to the type of def.
func convertVar(name, s string, def starlark.Value) (starlark.Value, error) {
	bad := func(want string) error {
		return fmt.Errorf("var: -D %s=%s: want %s, like the default %s", name, s, want, def)
	}
	switch def.(type) {
	case starlark.String:
		return starlark.String(s), nil
	case starlark.Int:
		i, err := strconv.ParseInt(s, 0, 64)
		if errors.Is(err, strconv.ErrRange) {
			return nil, bad("an integer from -2^63 to 2^63-1")
		}
		if err != nil {
			return nil, bad("an integer")
		}
		return starlark.MakeInt64(i), nil
	case starlark.Float:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, bad("a number")
		}
		return starlark.Float(f), nil
	case starlark.Bool:
		switch s {
		case "true", "True", "1", "yes", "on":
			return starlark.True, nil
		case "false", "False", "0", "no", "off":
			return starlark.False, nil
		}
		return nil, bad("true or false")
	}
	return nil, fmt.Errorf("var: the default of %s is a %s; use an int, float, bool or string", name, def.Type())
}
