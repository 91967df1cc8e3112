package interp

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.starlark.net/starlark"
)

// rootKey is the thread-local that holds the folder a file's loads may
// not leave.
const rootKey = "nsplay.loadroot"

// A folder is one that loads may not leave: the playbook's, or a library
// folder of the library path.
type folder struct {
	abs     string // absolute, symlinks resolved
	shown   string // as the user named it
	library bool
}

func (f folder) String() string {
	if f.library {
		return "the library folder " + f.shown
	}
	return "the playbook's folder " + f.shown
}

// resolve is the absolute path, symlinks resolved, of path, a file that is
// to be inside the folder: an error if it is not.
func (f folder) resolve(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	if rel, err := filepath.Rel(f.abs, abs); err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("it is outside %s; %s", f, f.outsideHint())
	}
	return abs, nil
}

// outsideHint says what to do instead of loading a file outside the folder.
func (f folder) outsideHint() string {
	if f.library {
		return "a recipe loads only files of its own library folder, and other recipes as @PATH"
	}
	return "keep shared recipes in a library folder and load them as @PATH, with --lib DIR or NSPLAY_PATH naming the folder"
}

// loadRecipe runs load("@name"): name, a path inside a library folder, in
// the first folder of the library path that has it. It never leaves that
// folder: name has no "..", is not absolute, and a symlink in it must
// stay inside too.
func (ld *loader) loadRecipe(name string) (starlark.StringDict, error) {
	if !filepath.IsLocal(name) {
		return nil, errors.New("after @ comes a path inside a library folder, like @net/router.star: no absolute path, no ..")
	}
	if len(ld.lib) == 0 {
		return nil, fmt.Errorf("it is a recipe of the library path, which is empty: name the folder that holds %s with --lib DIR or NSPLAY_PATH", name)
	}
	var looked []string
	for _, dir := range ld.lib {
		path := filepath.Join(dir, name)
		_, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			looked = append(looked, path)
			continue
		}
		if err != nil {
			return nil, err
		}
		root, err := libraryFolder(dir)
		if err != nil {
			return nil, err
		}
		abs, err := root.resolve(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return ld.module(path, abs, root)
	}
	return nil, fmt.Errorf("no recipe @%s in the library path: looked for %s; name the folder that holds it with --lib DIR or NSPLAY_PATH", name, strings.Join(looked, ", "))
}

// libraryFolder is the folder of the library path at dir.
func libraryFolder(dir string) (folder, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return folder{}, err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	return folder{abs: abs, shown: dir, library: true}, nil
}
