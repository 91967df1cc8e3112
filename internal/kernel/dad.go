package kernel

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// A new IPv6 address is "tentative" until duplicate address detection (DAD)
// has found no other host on its link that has it: the kernel waits a
// random time of up to router_solicitation_delay, sends dad_transmits
// neighbour solicitations retrans_time_ms apart, and only then sends from
// the address or answers to it, ~1-2 s after the link got carrier at the
// defaults. It begins only once the link is up with carrier.

// dadPoll is how often AwaitDAD looks at the address.
const dadPoll = 10 * time.Millisecond

// AwaitDAD waits until the kernel has finished DAD of the link's IPv6
// address ip. While the link is down or without carrier DAD cannot begin:
// AwaitDAD then returns at once with pending set, and a later call, once
// the link has carrier, waits. An address DAD found on another host is
// ErrDuplicateAddr; one still tentative after the time the namespace's DAD
// settings allow is an error too. An address that is not there (any more)
// is nothing to wait for.
func (n *NS) AwaitDAD(name string, ip net.IP) (pending bool, err error) {
	var limit time.Duration
	var deadline time.Time
	for {
		l, err := n.link(name)
		if err != nil {
			return false, err
		}
		a, err := n.addrOf(l, ip)
		if err != nil || a == nil || !inDAD(a.Flags) {
			return false, err
		}
		if a.Flags&unix.IFA_F_DADFAILED != 0 {
			return false, duplicateError(dadProblem(a, name, n) + "; choose another address")
		}
		flags := l.Attrs().RawFlags
		if flags&unix.IFF_UP == 0 || flags&unix.IFF_LOWER_UP == 0 {
			return true, nil
		}
		if deadline.IsZero() {
			if limit, err = n.dadTime(name); err != nil {
				return false, err
			}
			deadline = time.Now().Add(limit)
		} else if time.Now().After(deadline) {
			return false, fmt.Errorf("%s after %s, longer than the DAD settings of %s allow; add it with nodad to skip the detection",
				dadProblem(a, name, n), limit, name)
		}
		time.Sleep(dadPoll)
	}
}

// addrOf finds the link's IPv6 address ip, or nil.
func (n *NS) addrOf(l netlink.Link, ip net.IP) (*rawAddr, error) {
	as, err := n.addrList(l.Attrs().Index, netlink.FAMILY_V6)
	if err != nil {
		return nil, fmt.Errorf("list IPv6 addresses of %s in %s: %w", l.Attrs().Name, n, err)
	}
	for i := range as {
		if as[i].IPNet.IP.Equal(ip) {
			return &as[i], nil
		}
	}
	return nil, nil
}

// dadTime is how long DAD may take on the link by its namespace's
// settings, plus a second for the kernel's link watch, which tells IPv6 of
// a bridge's new carrier up to a second late, and a second of margin.
func (n *NS) dadTime(name string) (time.Duration, error) {
	var delay, transmits, retrans int
	err := n.In(func() error {
		for _, s := range []struct {
			file string
			v    *int
		}{
			{"conf/" + name + "/router_solicitation_delay", &delay}, // seconds
			{"conf/" + name + "/dad_transmits", &transmits},
			{"neigh/" + name + "/retrans_time_ms", &retrans},
		} {
			b, err := readProcSys("/proc/sys/net/ipv6/" + s.file)
			if err != nil {
				return err
			}
			if *s.v, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
				return fmt.Errorf("net/ipv6/%s: %w", s.file, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("read the DAD settings of %s in %s: %w", name, n, err)
	}
	return time.Duration(delay)*time.Second + time.Duration(transmits*retrans)*time.Millisecond + 2*time.Second, nil
}

// inDAD tells whether DAD keeps an address from use: still tentative (an
// optimistic address is used meanwhile) or failed.
func inDAD(flags int) bool {
	return flags&unix.IFA_F_DADFAILED != 0 || flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_OPTIMISTIC) == unix.IFA_F_TENTATIVE
}

// dadProblem says what DAD does to an address, in the words `ip addr`
// shows it with.
func dadProblem(a *rawAddr, link string, n *NS) string {
	if a.Flags&unix.IFA_F_DADFAILED != 0 {
		return fmt.Sprintf("%s on %s in %s failed duplicate address detection (dadfailed): another host on the link has it", a.IPNet, link, n)
	}
	return fmt.Sprintf("%s on %s in %s is still tentative (duplicate address detection has not finished)", a.IPNet, link, n)
}
