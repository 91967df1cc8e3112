package model_test

import (
	"slices"
	"testing"

	"github.com/nsplay/nsplay/internal/model"
)

// The one list of namespace kinds: a command may have the first six fresh,
// cgroup only names its file; and no caller can change the list.
func TestNamespaceKinds(t *testing.T) {
	kinds := model.NamespaceKinds()
	var fresh, files []string
	for _, k := range kinds {
		files = append(files, k.Name)
		if k.Fresh() {
			fresh = append(fresh, k.Name)
		}
	}
	if got, want := fresh, []string{"mnt", "uts", "ipc", "pid", "net", "user"}; !slices.Equal(got, want) {
		t.Errorf("fresh kinds %v, want %v", got, want)
	}
	if got, want := files, []string{"mnt", "uts", "ipc", "pid", "net", "user", "cgroup"}; !slices.Equal(got, want) {
		t.Errorf("kinds %v, want %v", got, want)
	}
	kinds[0].Name = "changed"
	if k, ok := model.NamespaceKindOf("mnt"); !ok || k.Unshare != "--mount" || model.NamespaceKinds()[0].Name != "mnt" {
		t.Errorf("changing the returned list changed the model's: %+v, %v", k, ok)
	}
	if k, ok := model.NamespaceKindOf("time"); ok || k.Fresh() {
		t.Errorf("NamespaceKindOf(time) = %+v, %v; want none", k, ok)
	}

	for _, name := range []string{"cgroup", "time", ""} {
		err := model.CheckFresh(name)
		want := `unknown namespace kind "` + name + `": use mnt, uts, ipc, pid, net or user`
		if err == nil || err.Error() != want {
			t.Errorf("CheckFresh(%q) = %v, want %s", name, err, want)
		}
	}
	if err := model.CheckFresh("user"); err != nil {
		t.Errorf("CheckFresh(user) = %v", err)
	}
	spec := model.ExecSpec{NS: model.Named("n1"), New: []string{"pid", "user"}, Hostname: "h", Argv: []string{"true"}, Shown: "true"}
	if got, want := spec.Text(), "ip netns exec n1 unshare --pid --mount-proc --user (root inside, nobody outside) (hostname h) true"; got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
}
