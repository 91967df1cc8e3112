package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nsplay/nsplay/internal/kernel"
	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

func (c *cli) monitorCommand() *cobra.Command {
	var asJSON bool
	cmd := c.command("monitor [--json] [LAB]", "print changes to namespaces, links, addresses, routes", `Prints changes as the kernel makes them, like 'ip monitor' and 'ip netns
monitor' together: namespaces added and deleted, and links, addresses and
routes added, changed and deleted, in the host and in every named namespace,
including namespaces made while it runs. With LAB, only that lab's: its
namespaces, and in the host its links and what goes through them; the lab
need not be up yet. Changes within one namespace come in the order the
kernel made them. Runs until interrupted (Ctrl-C).`,
		takes(func(n int) bool { return n <= 1 }, "monitor takes at most one lab name"),
		noStatus(func(args []string) error { return monitorCmd(asJSON, args, c.stdout, c.stderr) }))
	cmd.Flags().BoolVar(&asJSON, "json", false, "print each change as a JSON object: time, ns, kind, action, text")
	cmd.ValidArgsFunction = labArg
	return cmd
}

// change is one line of the monitor's output.
type change struct {
	Time   time.Time `json:"time"`
	NS     string    `json:"ns"`     // "host", a namespace's name
	Kind   string    `json:"kind"`   // "netns", "link", "addr", "route"
	Action string    `json:"action"` // "add", "change", "del"
	Text   string    `json:"text"`
}

func monitorCmd(asJSON bool, rest []string, stdout, stderr io.Writer) error {
	if os.Geteuid() != 0 {
		return errors.New("monitor needs root to watch namespaces: run it with sudo")
	}
	m := &monitor{paths: model.DefaultPaths, changes: make(chan change, 1024), added: make(chan string, 64), watching: map[string]*kernel.Monitor{}}
	if len(rest) == 1 {
		m.lab = rest[0]
	}
	var err error
	if m.host, err = kernel.Current(); err != nil {
		return err
	}
	defer m.host.Close()
	defer m.closeAll()
	if err := m.watchNamespaces(); err != nil {
		return err
	}
	if err := m.watch("host", m.host, false); err != nil {
		return err
	}
	names, err := kernel.NamedList(m.paths.RunNetns)
	if err != nil {
		return err
	}
	for _, name := range names {
		m.addNamed(name, false)
	}
	fmt.Fprintf(stderr, "monitoring %s (Ctrl-C to stop)\n", strings.Join(m.watched(), ", "))

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	for {
		select {
		case <-sigs:
			return nil
		case name := <-m.added:
			m.addNamed(name, true)
		case c := <-m.changes:
			show := m.shows(c)
			if c.Kind == "netns" && c.Action == "del" {
				// The lab's journal may be gone already: what was
				// watched was the lab's. The namespace's last changes
				// may still be on their way: its monitor is closed a
				// moment later (its socket keeps the namespace alive).
				mon, watched := m.watching[c.NS]
				show = watched || m.lab == ""
				delete(m.watching, c.NS)
				if watched {
					time.AfterFunc(200*time.Millisecond, mon.Close)
				}
			}
			if !show {
				continue
			}
			if asJSON {
				enc.Encode(c)
			} else if c.Kind == "changes" {
				fmt.Fprintf(stdout, "%s: %s\n", c.NS, c.Text)
			} else if c.Kind == "netns" {
				fmt.Fprintf(stdout, "netns %s %s\n", c.Text, words[c.Action])
			} else {
				fmt.Fprintf(stdout, "%s: %s %s %s\n", c.NS, c.Kind, c.Text, words[c.Action])
			}
		}
	}
}

var words = map[string]string{"add": "added", "change": "changed", "del": "deleted", "lost": "(lost)"}

type monitor struct {
	lab      string      // "" for everything
	paths    model.Paths // the machine's: the named namespaces and the labs it watches
	host     *kernel.NS
	changes  chan change
	added    chan string // names that appeared under paths.RunNetns
	watching map[string]*kernel.Monitor

	// The lab's namespaces and host links, as of the journal's size and
	// time.
	spaces, links []string
	journalSize   int64
	journalTime   time.Time
}

func (m *monitor) watch(label string, ns *kernel.NS, existing bool) error {
	mon, err := ns.Monitor(func(c kernel.Change) {
		m.changes <- change{Time: time.Now(), NS: label, Kind: c.Kind, Action: c.Action, Text: c.Text}
	}, existing)
	if err != nil {
		return err
	}
	m.watching[label] = mon
	return nil
}

func (m *monitor) watched() []string {
	var labels []string
	for l := range m.watching {
		labels = append(labels, l)
	}
	slices.Sort(labels)
	return labels
}

// addNamed starts watching a named namespace, if it is one to watch. One
// that just appeared may not be mounted yet: it is tried for a second.
func (m *monitor) addNamed(name string, fresh bool) {
	if _, ok := m.watching[name]; ok || !m.labHasNS(name) {
		return
	}
	for start := time.Now(); time.Since(start) < time.Second; time.Sleep(5 * time.Millisecond) {
		ns, err := kernel.OpenNamed(m.paths.RunNetns, name)
		if err != nil {
			continue
		}
		// The monitor's socket is all it needs: the handle would keep the
		// namespace alive after it is deleted.
		m.watch(name, ns, fresh)
		ns.Close()
		return
	}
}

// watchNamespaces reports names added to and removed from the folder of
// named namespaces (/run/netns), like `ip netns monitor`, through inotify.
func (m *monitor) watchNamespaces() error {
	dir := m.paths.RunNetns
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_DELETE); err != nil {
		unix.Close(fd)
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := unix.Read(fd, buf)
			if err != nil {
				return
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				// struct inotify_event: wd, mask, cookie, len, then the name.
				mask := binary.NativeEndian.Uint32(buf[off+4:])
				size := int(binary.NativeEndian.Uint32(buf[off+12:]))
				nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+size]
				name := strings.TrimRight(string(nameBytes), "\x00")
				off += unix.SizeofInotifyEvent + size
				action := "add"
				if mask&unix.IN_DELETE != 0 {
					action = "del"
				}
				m.changes <- change{Time: time.Now(), NS: name, Kind: "netns", Action: action, Text: name}
				if action == "add" {
					m.added <- name
				}
			}
		}
	}()
	return nil
}

// shows tells whether a change is one to print: with a lab, only the lab's.
func (m *monitor) shows(c change) bool {
	if m.lab == "" || c.Kind == "changes" {
		return true
	}
	switch {
	case c.Kind == "netns":
		return m.labHasNS(c.NS)
	case c.NS != "host":
		return true // only the lab's namespaces are watched
	}
	// In the host: the lab's links, and addresses and routes on them.
	name := strings.Fields(c.Text)[0]
	if i := slices.Index(strings.Fields(c.Text), "dev"); i >= 0 && i+1 < len(strings.Fields(c.Text)) {
		name = strings.Fields(c.Text)[i+1]
	}
	return m.labHasLink(name)
}

// labHasNS tells whether the lab made the namespace of that name; labHasLink
// whether it made the host link of that name (always true without a lab).
func (m *monitor) labHasNS(name string) bool {
	return m.lab == "" || slices.Contains(m.read().spaces, name)
}
func (m *monitor) labHasLink(name string) bool {
	return m.lab == "" || slices.Contains(m.read().links, name)
}

// read reads the lab's journal again whenever it changed: the lab may be
// running, and it journals what it makes before it makes it.
func (m *monitor) read() *monitor {
	st, err := os.Stat(filepath.Join(m.paths.Labs, m.lab, "journal"))
	if err != nil {
		m.spaces, m.links = nil, nil
		return m
	}
	if st.Size() != m.journalSize || !st.ModTime().Equal(m.journalTime) {
		l, err := lab.Inspect(m.lab, nil, m.paths)
		if err != nil {
			return m
		}
		m.spaces, m.links = l.Namespaces(), l.LinksIn(model.Host)
		m.journalSize, m.journalTime = st.Size(), st.ModTime()
	}
	return m
}

func (m *monitor) closeAll() {
	for _, mon := range m.watching {
		mon.Close()
	}
}
