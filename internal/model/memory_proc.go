package model

import (
	"context"
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"
)

// A plan's background commands do not run, but they have a place: each
// gets a stand-in pid, from firstPID up (never a real process's, as far as
// a plan goes: none is looked at), and the network namespace it would run
// in, a fresh one for new=["net"], so that netns(pid = p.pid) and exec_in
// into it find what the playbook meant.

// firstPID is the first stand-in pid.
const firstPID = 100000

// memProc is a plan's background command.
type memProc struct {
	pid   int
	net   *memNS
	alive bool
}

func (p *memProc) PID() int    { return p.pid }
func (p *memProc) Known() bool { return false }
func (p *memProc) Alive() bool { return p.alive }

// Signal ends the process for any signal but 0, which only probes it.
func (p *memProc) Signal(sig syscall.Signal) error {
	if !p.alive {
		return os.ErrProcessDone
	}
	if sig != 0 {
		p.alive = false
	}
	return nil
}

func (p *memProc) Wait(context.Context, time.Duration) (ExecResult, error) {
	return ExecResult{Unknown: true}, nil
}

func (p *memProc) Stop(time.Duration) bool {
	was := p.alive
	p.alive = false
	return was
}

func (m *Memory) Start(spec ExecSpec) (Proc, error) {
	net, err := m.netOf(spec)
	if err != nil {
		return nil, err
	}
	pid := firstPID + len(m.procs)
	if slices.Contains(spec.New, "net") {
		net = m.newNS(AtPath(fmt.Sprintf("/proc/%d/ns/net", pid)))
	}
	p := &memProc{pid: pid, net: net, alive: true}
	m.procs[pid] = p
	return p, nil
}

// netOf is the network namespace a command joins: its target namespace,
// or that of the process it joins.
func (m *Memory) netOf(spec ExecSpec) (*memNS, error) {
	if spec.JoinPID == 0 {
		return m.space(spec.NS)
	}
	p, ok := m.procs[spec.JoinPID]
	if !ok {
		return nil, fmt.Errorf("process %d: %w", spec.JoinPID, ErrNotFound)
	}
	return p.net, nil
}

// checkTarget checks that the namespace a command runs in is there.
func (m *Memory) checkTarget(spec ExecSpec) error {
	_, err := m.netOf(spec)
	return err
}

// procOf is the plan's process a /proc/PID/ns/net path names, or nil.
func (m *Memory) procOf(path string) *memProc {
	var pid int
	if _, err := fmt.Sscanf(path, "/proc/%d/ns/net", &pid); err != nil || fmt.Sprintf("/proc/%d/ns/net", pid) != path {
		return nil
	}
	return m.procs[pid]
}

// StartTime is the same for every stand-in process: its pid names it.
func (m *Memory) StartTime(pid int) (uint64, error) {
	if _, ok := m.procs[pid]; ok {
		return 1, nil
	}
	return 0, fmt.Errorf("process %d: %w", pid, ErrNotFound)
}
