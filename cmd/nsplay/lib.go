package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// libraryEnv names the library path's folders after those of --lib.
const libraryEnv = "NSPLAY_PATH"

// libFlag adds --lib, a folder of the library path, to a command.
func libFlag(cmd *cobra.Command, dirs *[]string) {
	cmd.Flags().StringArrayVar(dirs, "lib", nil, "look for the recipes of load(\"@PATH\") in `DIR`, before the folders of $"+libraryEnv+" (repeatable: searched in the order given)")
	cmd.MarkFlagDirname("lib")
}

// libraryPath is where load("@PATH") looks, in order: the --lib folders,
// then those of $NSPLAY_PATH, colon-separated, as the user wrote them
// (relative to the folder nsplay runs in). A --lib folder must exist: the
// user named it just now. A folder of NSPLAY_PATH that does not is left
// in, as PATH leaves it: the error for a missing recipe lists it. An
// empty entry is no folder (PATH takes it for the current one: a recipe
// from wherever nsplay happens to run is not one the user named).
func libraryPath(dirs []string) ([]string, error) {
	var path []string
	for _, dir := range dirs {
		st, err := os.Stat(dir)
		switch {
		case err != nil:
			return nil, usageError{fmt.Sprintf("--lib %s: %v; name a folder of recipes", dir, err)}
		case !st.IsDir():
			return nil, usageError{fmt.Sprintf("--lib %s is a file; name the folder that holds the recipes", dir)}
		}
		path = append(path, filepath.Clean(dir))
	}
	for _, dir := range strings.Split(os.Getenv(libraryEnv), ":") {
		if dir != "" {
			path = append(path, filepath.Clean(dir))
		}
	}
	return path, nil
}

// relativeTo writes the folders relative to the folder base, both with
// their symlinks resolved (a folder that is not there, as it is).
func relativeTo(base string, dirs []string) []string {
	real := func(dir string) string {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return dir
		}
		if r, err := filepath.EvalSymlinks(abs); err == nil {
			return r
		}
		return abs
	}
	var out []string
	for _, dir := range dirs {
		rel, err := filepath.Rel(real(base), real(dir))
		if err != nil {
			rel = real(dir)
		}
		out = append(out, rel)
	}
	return out
}
