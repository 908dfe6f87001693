package monkey

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Target is one replica a [Killer] may kill.
type Target struct {
	// Name identifies the replica across restarts ("api-0").
	Name string
	// PID is the process id of the replica's current process; 0 if it has
	// none.
	PID int
	// Alive reports whether the process is running. A replica that is
	// being restarted is not alive.
	Alive bool
}

// Supervisor lists the targets of a [Killer]. Targets is called right before
// each kill and must be safe for concurrent use; it should be cheap.
type Supervisor interface {
	Targets() []Target
}

// Restarter is a [Supervisor] that can restart a target on request. A Killer
// with Config.Restart set restarts targets through it instead of sending a
// signal.
type Restarter interface {
	Supervisor
	// Restart stops the named target's process, if it has one, and starts
	// a new one at once. It returns when the new process has started, or
	// with ctx's error when ctx ends first.
	Restart(ctx context.Context, name string) error
}

// PIDFiles is a [Supervisor] whose targets are the pid files matching a glob
// pattern (as in filepath.Glob), such as "run/*.pid". Each file holds a
// decimal pid; the target's name is the file's base name without its
// extension. A target is alive when its process exists, is not a zombie,
// and (where /proc tells) started before its pid file was last written, so
// that a pid reused by an unrelated process counts as dead. A file that
// cannot be read or parsed is a dead target with PID 0; a file that
// disappears while it is read is left out.
//
// The zero PIDFiles has no targets. PIDFiles is safe for concurrent use.
type PIDFiles struct {
	// Pattern is the glob pattern of the pid files.
	Pattern string
}

// Targets reads the pid files; see [PIDFiles].
func (f PIDFiles) Targets() []Target {
	if f.Pattern == "" {
		return nil
	}
	paths, err := filepath.Glob(f.Pattern)
	if err != nil {
		return nil
	}
	targets := make([]Target, 0, len(paths))
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		t := Target{Name: name}
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() {
			continue
		}
		b, err := os.ReadFile(p) //nolint:gosec // the pid files the caller's pattern names
		if err == nil {
			if pid, err := strconv.Atoi(string(bytes.TrimSpace(b))); err == nil && pid > 0 {
				t.PID = pid
				t.Alive = processAlive(pid, fi.ModTime())
			}
		}
		targets = append(targets, t)
	}
	return targets
}

// pidReuseSlack absorbs the one-second resolution of the boot time in
// /proc/stat when comparing a process's start time with its pid file.
const pidReuseSlack = 2 * time.Second

// clockTicks is USER_HZ, the unit of start times in /proc/<pid>/stat. It is
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// processAlive reports whether pid names a running process. If
// startedBefore is not zero and /proc is readable, a process that started
// more than pidReuseSlack after startedBefore is not the one the caller
// means, and counts as dead.
func processAlive(pid int, startedBefore time.Time) bool {
	if pid <= 0 {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if _, statErr := os.Stat("/proc/self/stat"); statErr == nil {
				return false // /proc works and the process is gone
			}
		}
		// No /proc: signal 0 checks existence (EPERM: exists, not ours).
		err := syscall.Kill(pid, 0)
		return err == nil || errors.Is(err, syscall.EPERM)
	}
	state, start, ok := parseStat(stat)
	if !ok || start > math.MaxInt64/uint64(time.Second) {
		return false
	}
	if state == 'Z' || state == 'X' || state == 'x' {
		return false
	}
	if !startedBefore.IsZero() {
		if boot, ok := bootTime(); ok {
			started := boot.Add(time.Duration(start) * time.Second / clockTicks) //nolint:gosec // start is bounded above
			if started.After(startedBefore.Add(pidReuseSlack)) {
				return false
			}
		}
	}
	return true
}

// parseStat returns the state and start time (in clock ticks since boot)
// from the contents of /proc/<pid>/stat. The command name, in parentheses,
// may itself contain spaces and parentheses, so fields are counted from the
// last ')'.
func parseStat(b []byte) (state byte, start uint64, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	fields := strings.Fields(string(b[i+1:]))
	// fields[0] is field 3 (state); field 22 (starttime) is fields[19].
	if len(fields) < 20 || len(fields[0]) != 1 {
		return 0, 0, false
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return fields[0][0], start, true
}

// bootTime reads the boot time (btime) from /proc/stat.
func bootTime() (time.Time, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "btime "); ok {
			sec, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			return time.Unix(sec, 0), true
		}
	}
	return time.Time{}, false
}
