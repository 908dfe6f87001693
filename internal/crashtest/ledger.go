package crashtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
)

// Ledger is an append-only file of applied effects, one line per effect:
// "key exec\n". Append returns only after the line is on disk (fsync). A
// Ledger is safe for concurrent use.
type Ledger struct {
	mu sync.Mutex
	f  *os.File
}

// OpenLedger opens (creating if needed) the ledger at path for appending.
func OpenLedger(path string) (*Ledger, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600) //nolint:gosec // a path the test chose
	if err != nil {
		return nil, fmt.Errorf("crashtest: open ledger: %w", err)
	}
	return &Ledger{f: f}, nil
}

// Append records that the effect for key was applied by execution exec, and
// syncs the file. key and exec must not contain spaces or newlines.
func (l *Ledger) Append(key, exec string) error {
	if strings.ContainsAny(key, " \n") || strings.ContainsAny(exec, " \n") {
		return fmt.Errorf("crashtest: ledger key %q or exec %q contains a space or newline", key, exec)
	}
	line := key + " " + exec + "\n"
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.WriteString(line); err != nil {
		return fmt.Errorf("crashtest: ledger write: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("crashtest: ledger sync: %w", err)
	}
	return nil
}

// Close closes the file.
func (l *Ledger) Close() error { return l.f.Close() }

// Entry is one ledger line.
type Entry struct{ Key, Exec string }

// ReadLedger returns the entries of the ledger at path in order, and how
// many bytes at the end form an unfinished line (a write the process was
// killed in, never synced, so never acknowledged). A missing file is an
// empty ledger.
func ReadLedger(path string) (entries []Entry, torn int, err error) {
	b, err := os.ReadFile(path) //nolint:gosec // a path the test chose
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("crashtest: read ledger: %w", err)
	}
	if i := bytes.LastIndexByte(b, '\n'); i+1 < len(b) {
		torn = len(b) - (i + 1)
		b = b[:i+1]
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		key, exec, ok := strings.Cut(sc.Text(), " ")
		if !ok || key == "" || exec == "" {
			return nil, 0, fmt.Errorf("crashtest: ledger line %d: %q is not \"key exec\"", n, sc.Text())
		}
		entries = append(entries, Entry{key, exec})
	}
	return entries, torn, sc.Err()
}

// Count returns how many times each key appears in entries.
func Count(entries []Entry) map[string]int {
	m := make(map[string]int)
	for _, e := range entries {
		m[e.Key]++
	}
	return m
}
