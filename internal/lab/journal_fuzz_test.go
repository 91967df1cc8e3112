package lab

import (
	"strings"
	"testing"
)

// seedJournal is the journal of a kept lab (a bridge, a namespace, a veth
// moved and renamed, routes, an address on a host link, a process, a link
// made and deleted), as nsplay wrote it.
const seedJournal = `{"rec":"start","playbook":"/tmp/bad/seed.star","pid":13815}
{"rec":"do","op":{"op":"link.add","args":{"link":{"ns":"host","name":"br0"},"kind":"bridge","spec":{"stp":true}}},"nsino":4026533469}
{"rec":"do","id":1,"op":{"op":"netns.add","args":{"name":"n1"}}}
{"rec":"ino","id":1,"nsino":4026532698}
{"rec":"do","id":2,"op":{"op":"link.add","args":{"link":{"ns":"host","name":"v1"},"kind":"veth","spec":{"peer":{"ns":"host","name":"p1"}}}},"nsino":4026533469}
{"rec":"do","id":3,"op":{"op":"link.add","args":{"link":{"ns":"host","name":"p1"},"kind":"veth","spec":{"peer":{"ns":"host","name":"p1"}}}},"nsino":4026533469}
{"rec":"at","id":2,"at":{"ns":"netns:n1","name":"v1"},"nsino":4026532698}
{"rec":"at","id":2,"at":{"ns":"netns:n1","name":"eth0"},"nsino":4026532698}
{"rec":"do","id":4,"op":{"op":"route.add","args":{"ns":"host","route":{"dst":"10.2.0.0/16","via":"10.1.0.2","metric":0,"table":"main"}}},"nsino":4026533469}
{"rec":"do","id":5,"op":{"op":"addr.add","args":{"link":{"ns":"host","name":"lo"},"cidr":"192.0.2.9/32"}},"nsino":4026533469}
{"rec":"do","id":6,"op":{"op":"proc.start","args":{"pid":13830,"start":712552,"command":"/bin/sh"}},"nsino":4026533469}
{"rec":"do","id":7,"op":{"op":"link.add","args":{"link":{"ns":"host","name":"tmp0"},"kind":"bridge","spec":{"stp":false}}},"nsino":4026533469}
{"rec":"gone","id":7}
{"rec":"keep"}
`

// FuzzJournal feeds parseJournal what a journal could hold after a crash,
// a full disk or a hand edit: it may not panic, and it either reads the
// journal or refuses it as damaged at a line; a last line left unfinished
// (nsplay killed while writing it) is no damage. What it reads names only
// what a lab could make. Seeds are in testdata/fuzz; `make fuzz` runs it
// for a while.
func FuzzJournal(f *testing.F) {
	f.Add([]byte(seedJournal))
	f.Add([]byte(seedJournal[:len(seedJournal)/2]))
	f.Add([]byte(`{"rec":"do","id":1,"op":{"op":"netns.add","args":{"name":"../../etc"}}}` + "\n"))
	f.Add([]byte(`{"op":"add","obj":{"id":1,"kind":"link","ns":"netns:n1","name":"eth0","born":"host/v1"}}` + "\n"))
	f.Add([]byte("{\"rec\":\"start\"}\nnot json\n{\"rec\":\"keep\"}\n"))
	f.Add([]byte(`{"rec":"at","id":2,"at":{"ns":"netns:n1","name":"a/b"}}` + "\n"))
	f.Add([]byte(`{"rec":"do","id":3,"op":{"op":"file.write","args":{"path":"etc/x","data":""}}}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parseJournal("journal", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "journal journal is damaged at line ") {
				t.Fatalf("parseJournal refuses %q with %q, which does not say where it is damaged", data, err)
			}
			return
		}
		for _, e := range h.entries {
			if err := e.check(); err != nil {
				t.Fatalf("parseJournal read an entry no lab makes: %+v: %v", e, err)
			}
		}
		if len(data) == 0 || data[len(data)-1] != '\n' {
			return
		}
		torn, err := parseJournal("journal", append(data, `{"rec":"do","id":9`...))
		if err != nil || len(torn.entries) != len(h.entries) {
			t.Fatalf("a torn last line after a journal that reads is taken for damage: %v (%d entries, want %d)", err, len(torn.entries), len(h.entries))
		}
	})
}
