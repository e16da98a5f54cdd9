package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// fdReserve is the descriptors a process keeps for what is not a device
// link: listeners, the configuration database, log pipes, plugin links.
const fdReserve = 200

// raiseNoFile raises this process's RLIMIT_NOFILE towards want: the soft
// limit up to the hard one, and the hard one as well when the process may
// (root with CAP_SYS_RESOURCE), up to fs.nr_open. Processes started
// afterwards inherit the limit. It returns the soft limit in force.
func raiseNoFile(want uint64) uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	if nrOpen := sysctlUint("/proc/sys/fs/nr_open"); nrOpen > 0 {
		want = min(want, nrOpen)
	}
	if want > l.Max {
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}) == nil {
			return want
		}
	}
	// Set it even when it is already at the hard limit: after an explicit
	// Setrlimit the Go runtime no longer gives children the soft limit
	// this process started with.
	l.Cur = l.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	return noFileLimit()
}

// raiseChildNoFile makes sure a child process may open at least want
// descriptors, raising its limit with prlimit(2) when it did not inherit
// enough, and returns the soft limit it has (0 if unreadable).
func raiseChildNoFile(pid int, want uint64) uint64 {
	var l unix.Rlimit
	if unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &l) != nil {
		return 0
	}
	if l.Cur >= want {
		return l.Cur
	}
	raised := unix.Rlimit{Cur: min(want, l.Max), Max: l.Max}
	if want > l.Max {
		raised = unix.Rlimit{Cur: want, Max: want}
	}
	if unix.Prlimit(pid, unix.RLIMIT_NOFILE, &raised, nil) != nil && raised.Max != l.Max {
		raised = unix.Rlimit{Cur: l.Max, Max: l.Max}
		unix.Prlimit(pid, unix.RLIMIT_NOFILE, &raised, nil)
	}
	if unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &l) != nil {
		return 0
	}
	return l.Cur
}

// sessionCapacity is how many device links the bench and the gateway's
// processes can hold at once with their descriptor limits: each link takes
// one descriptor here and one in parleyd.
func sessionCapacity(own uint64, children ...uint64) int {
	capacity := int(own) - fdReserve
	for _, c := range children {
		if c > 0 {
			capacity = min(capacity, int(c)-fdReserve)
		}
	}
	return max(capacity, 0)
}

// noFileWhy explains a descriptor limit that kept a scenario below the
// size it was asked for.
func noFileWhy(limit uint64) string {
	var l syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
	why := fmt.Sprintf("RLIMIT_NOFILE %d (hard %d)", limit, l.Max)
	if !hasCapSysResource() {
		why += ", cannot be raised without CAP_SYS_RESOURCE"
	} else if nrOpen := sysctlUint("/proc/sys/fs/nr_open"); nrOpen > 0 {
		why += fmt.Sprintf(", fs.nr_open %d", nrOpen)
	}
	return why
}

// hasCapSysResource reports whether this process has CAP_SYS_RESOURCE in
// its effective set.
func hasCapSysResource() bool {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<unix.CAP_SYS_RESOURCE) != 0
		}
	}
	return false
}

// sysctlUint reads a number from a /proc/sys file (0 if unreadable).
func sysctlUint(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return v
}
