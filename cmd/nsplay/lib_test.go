package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsplay/nsplay/internal/testenv"
)

// writeFiles writes files (path relative to dir: content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// recipes is a library folder of recipes beside two lab folders that use
// it, and a folder of other recipes.
var recipes = map[string]string{
	"shared/net/router.star": "def router(name):\n    ns = netns(name)\n    expect.eq(ns.name, name)\n    return ns\n",
	"other/net/switch.star":  "def switch(name):\n    return bridge(name)\n",
	"labs/a/a.star":          "load(\"@net/router.star\", \"router\")\nrouter(\"lr1\")\n",
	"labs/b/b.star":          "load(\"@net/switch.star\", \"switch\")\nload(\"@net/router.star\", \"router\")\nswitch(\"lsw0\")\nrouter(\"lr2\")\n",
	"labs/c/c.star":          "load(\"@net/nosuch.star\", \"x\")\n",
	"labs/d/d.star":          "load(\"../../shared/net/router.star\", \"router\")\n",
}

// --lib and NSPLAY_PATH name the library path that load("@PATH") searches,
// --lib first; a missing recipe lists where it was looked for; a relative
// load still never leaves the playbook's folder.
func TestLibraryPath(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, recipes)
	shared, other := filepath.Join(dir, "shared"), filepath.Join(dir, "other")
	t.Setenv(libraryEnv, "")

	stdout, stderr, code := run(t, "plan", "--lib", shared, filepath.Join(dir, "labs/a/a.star"))
	wantExit(t, code, exitOK, stdout, stderr)
	if want := filepath.Join(shared, "net/router.star") + ":2: ip netns add lr1\n"; !strings.Contains(stdout, want) {
		t.Errorf("plan --lib: the step of the recipe is not %q:\n%s", want, stdout)
	}

	// NSPLAY_PATH: an empty entry and a missing folder are passed over.
	t.Setenv(libraryEnv, ":"+filepath.Join(dir, "nosuch")+":"+other)
	stdout, stderr, code = run(t, "plan", filepath.Join(dir, "labs/b/b.star"), "--lib", shared)
	wantExit(t, code, exitOK, stdout, stderr)
	for _, want := range []string{filepath.Join(other, "net/switch.star") + ":2: ip link add lsw0 type bridge", filepath.Join(shared, "net/router.star") + ":2: ip netns add lr2"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan with --lib and NSPLAY_PATH lacks %q:\n%s", want, stdout)
		}
	}
	stdout, stderr, code = run(t, "graph", "--lib", shared, filepath.Join(dir, "labs/b/b.star"))
	if code != exitOK || !strings.Contains(stdout, "lsw0") || !strings.Contains(stdout, "lr2") {
		t.Errorf("graph --lib: status %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	_, stderr, code = run(t, "plan", "--lib", shared, filepath.Join(dir, "labs/c/c.star"))
	want := "c.star:1:1: cannot load @net/nosuch.star: no recipe @net/nosuch.star in the library path: looked for " +
		strings.Join([]string{filepath.Join(shared, "net/nosuch.star"), filepath.Join(dir, "nosuch/net/nosuch.star"), filepath.Join(other, "net/nosuch.star")}, ", ")
	if code != exitError || !strings.Contains(stderr, want) {
		t.Errorf("a missing recipe: status %d, stderr %q; want %q", code, stderr, want)
	}
	_, stderr, code = run(t, "plan", "--lib", shared, filepath.Join(dir, "labs/d/d.star"))
	if code != exitError || !strings.Contains(stderr, "d.star:1:1: cannot load ../../shared/net/router.star: it is outside the playbook's folder") {
		t.Errorf("a relative load out of the playbook's folder: status %d, stderr %q", code, stderr)
	}
	for _, lib := range []string{filepath.Join(dir, "nosuch"), filepath.Join(dir, "labs/a/a.star")} {
		_, stderr, code = run(t, "plan", "--lib", lib, filepath.Join(dir, "labs/a/a.star"))
		if code != exitError || !strings.Contains(stderr, "--lib "+lib) {
			t.Errorf("plan --lib %s: status %d, stderr %q; want a usage error that names it", lib, code, stderr)
		}
	}
}

// nsplay test hands the library path to each playbook's sandbox, relative
// to the playbook's folder: the golden file records a recipe's check at a
// position that is the same on every machine.
func TestLibraryPathInGoldenFiles(t *testing.T) {
	testenv.RequireRoot(t)
	before := testenv.TakeSnapshot(t)
	dir := t.TempDir()
	writeFiles(t, dir, recipes)
	labs := filepath.Join(dir, "labs/a")
	for _, update := range []bool{true, false} {
		args := []string{"test", "--lib", filepath.Join(dir, "shared"), labs}
		if update {
			args = append(args, "--update")
		}
		cmd := nsplayProcess(t, args...)
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != exitOK || !strings.HasSuffix(string(out), "1 passed, 0 failed\n") {
			t.Fatalf("nsplay %q: status %d\n%s", args, code, out)
		}
	}
	golden, err := os.ReadFile(filepath.Join(labs, "a.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "check PASS ../../shared/net/router.star `expect.eq(ns.name, name)`: expect.eq(\"lr1\", \"lr1\")\n"; !strings.Contains(string(golden), want) {
		t.Errorf("a.golden lacks %q:\n%s", want, golden)
	}
	before.AssertUnchanged(t)
}
