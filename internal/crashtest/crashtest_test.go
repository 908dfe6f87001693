package crashtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLedger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	if got, torn, err := ReadLedger(path); got != nil || torn != 0 || err != nil {
		t.Fatalf("ReadLedger of a missing file: got %v, %d, %v; want nil, 0, nil", got, torn, err)
	}
	l, err := OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []Entry{{"a", "g1-1"}, {"b", "g1-2"}, {"a", "g2-1"}} {
		if err := l.Append(e.Key, e.Exec); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Append("bad key", "x"); err == nil {
		t.Error("Append of a key with a space: got nil error")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// A line cut short by a kill.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("c g3"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	got, torn, err := ReadLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{{"a", "g1-1"}, {"b", "g1-2"}, {"a", "g2-1"}}
	if d := cmp.Diff(want, got); d != "" || torn != 4 {
		t.Errorf("ReadLedger: torn got %d want 4; entries (-want +got):\n%s", torn, d)
	}
	if d := cmp.Diff(map[string]int{"a": 2, "b": 1}, Count(got)); d != "" {
		t.Errorf("Count (-want +got):\n%s", d)
	}
}

func TestLineWriter(t *testing.T) {
	w := &lineWriter{ready: make(chan string, 1)}
	for _, chunk := range []string{"noise\nlisten", "ing on 127.0.0.1:", "4242\nmore\n"} {
		if n, err := w.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", chunk, n, err)
		}
	}
	select {
	case got := <-w.ready:
		if got != "127.0.0.1:4242" {
			t.Errorf("address: got %q, want %q", got, "127.0.0.1:4242")
		}
	default:
		t.Error("no address after the ready line")
	}
}
