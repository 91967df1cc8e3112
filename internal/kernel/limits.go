package kernel

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The kernel answers a lab that runs into one of its limits with a bare
// errno ("exchange full", "no space left on device"). These say which
// limit it is and what to do, and keep the errno in the chain.

// limitError is a kernel limit in plain words.
type limitError struct {
	msg string
	err error
}

func (e limitError) Error() string { return e.msg + " (" + e.err.Error() + ")" }
func (e limitError) Unwrap() error { return e.err }

// explainLimit names the limit behind errors that only a limit causes.
func explainLimit(err error) error {
	var lim limitError
	switch {
	case err == nil || errors.As(err, &lim):
		return err
	case errors.Is(err, unix.EXFULL):
		// br_add_if: the bridge has no free port number (BR_MAX_PORTS).
		return limitError{"a Linux bridge takes at most 1023 ports: spread the links over more bridges (two bridges joined by a veth pair switch as one)", err}
	case errors.Is(err, unix.EMFILE):
		var rl unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
		return limitError{fmt.Sprintf("nsplay has as many files open as it may (%d): it keeps a few for each namespace it uses; raise the limit (ulimit -n, LimitNOFILE) or build fewer namespaces", rl.Cur), err}
	case errors.Is(err, unix.ENFILE):
		return limitError{"the machine has as many files open as it may (fs.file-max): raise it, or build fewer namespaces", err}
	}
	return err
}

// namespaceLimit explains ENOSPC from making namespaces of kinds: the
// user namespace nsplay runs in allows only so many of each kind.
func namespaceLimit(kinds []string, err error) error {
	if !errors.Is(err, unix.ENOSPC) {
		return err
	}
	var limits []string
	for _, kind := range kinds {
		file := "/proc/sys/user/max_" + kind + "_namespaces"
		if data, rerr := os.ReadFile(file); rerr == nil {
			file += " is " + strings.TrimSpace(string(data))
		}
		limits = append(limits, file)
	}
	return limitError{fmt.Sprintf("the kernel allows no more %s namespaces here (%s): raise the limit, or make fewer", strings.Join(kinds, " or "), strings.Join(limits, ", ")), err}
}

// neighbourOverflows counts the times the kernel found its IPv4 or IPv6
// neighbour table full (table_fulls in /proc/net/stat/arp_cache and
// ndisc_cache, per CPU), or -1 when it cannot be read: the kernel shows
// them only in the machine's first network namespace. The tables are
// shared by all namespaces, and hold gc_thresh3 entries (1024 by default)
// that are not permanent: a star of a thousand hosts that ping each other
// fills them, and echoes then fail for no fault of the lab.
func neighbourOverflows() int64 {
	var total int64
	for _, table := range []string{"arp_cache", "ndisc_cache"} {
		f, err := os.Open("/proc/net/stat/" + table)
		if err != nil {
			return -1
		}
		n, err := tableFulls(bufio.NewScanner(f))
		f.Close()
		if err != nil {
			return -1
		}
		total += n
	}
	return total
}

// tableFulls sums the table_fulls column of a /proc/net/stat neighbour
// table: a header line, then one line of hexadecimal numbers per CPU.
func tableFulls(sc *bufio.Scanner) (int64, error) {
	if !sc.Scan() {
		return 0, errors.New("no header")
	}
	col := -1
	for i, name := range strings.Fields(sc.Text()) {
		if name == "table_fulls" {
			col = i
		}
	}
	if col < 0 {
		return 0, errors.New("no table_fulls column")
	}
	var total int64
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if col >= len(f) {
			return 0, errors.New("short line")
		}
		n, err := strconv.ParseInt(f[col], 16, 64)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, sc.Err()
}

// neighbourHint says that the neighbour tables overflowed since nsplay
// counted overflows last (at since), or ""; and the count now.
func neighbourHint(since int64) (string, int64) {
	now := neighbourOverflows()
	if since < 0 || now <= since {
		return "", since
	}
	return fmt.Sprintf("; the kernel's neighbour table was full %d times meanwhile, and packets to addresses it could not add were dropped: it holds net.ipv4.neigh.default.gc_thresh3 entries (1024 by default) for all namespaces together; raise that, or give the hosts permanent neighbour entries", now-since), now
}
