package model_test

import (
	"fmt"
	"testing"

	"github.com/nsplay/nsplay/internal/model"
)

// A plan's process has a stand-in pid and the namespace it would run in:
// its /proc/PID/ns/net path names that namespace, a fresh one for
// new=["net"], and a command joining it runs there.
func TestMemoryProcessNamespaces(t *testing.T) {
	m := model.NewMemory(model.DefaultPaths)
	apply(t, m, model.NetnsAdd{Name: "p1"})
	in, err := m.Start(model.ExecSpec{NS: model.Named("p1"), Argv: []string{"sleep", "600"}})
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := m.Start(model.ExecSpec{NS: model.Host, New: []string{"net"}, Argv: []string{"sleep", "600"}})
	if err != nil {
		t.Fatal(err)
	}
	if in.PID() == fresh.PID() {
		t.Fatalf("two processes share the stand-in pid %d", in.PID())
	}
	at := func(p model.Proc) model.NSRef { return model.AtPath(fmt.Sprintf("/proc/%d/ns/net", p.PID())) }
	p1, err := m.Identity(model.Named("p1"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := m.Identity(at(in)); err != nil || got != p1 {
		t.Errorf("the namespace of a process started in p1 is %d, %v; want p1's %d", got, err, p1)
	}
	host, _ := m.Identity(model.Host)
	got, err := m.Identity(at(fresh))
	if err != nil || got == host || got == p1 {
		t.Errorf("the namespace of a process with new=[\"net\"] is %d, %v; want a fresh one", got, err)
	}
	links, err := m.Links(at(fresh))
	if err != nil || len(links) != 1 || links[0].Name != "lo" || links[0].Up {
		t.Errorf("links of the fresh namespace: %+v, %v; want lo, down", links, err)
	}
	if _, err := m.Exec(t.Context(), model.ExecSpec{JoinPID: fresh.PID(), Argv: []string{"true"}}); err != nil {
		t.Errorf("a command joining the process: %v", err)
	}
	if _, err := m.Exec(t.Context(), model.ExecSpec{JoinPID: 99, Argv: []string{"true"}}); err == nil {
		t.Errorf("a command joining a process the plan did not start: no error")
	}
}
