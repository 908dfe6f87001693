package ledger_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/keelhq/keel/examples/payments/ledger"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func open(t *testing.T) (*ledger.Ledger, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), ledger.FileName)
	l, err := ledger.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l, path
}

var t0 = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

func TestAppendKeepsEveryApplication(t *testing.T) {
	l, _ := open(t)
	in := []ledger.Entry{
		{Key: "k1", ID: "ch_a", Amount: 100, Currency: "EUR", Customer: "c1", Replica: "p1", Time: t0},
		{Key: "k2", ID: "ch_b", Amount: 200, Currency: "USD", Customer: "c2", Replica: "p1", Time: t0.Add(time.Second)},
		{Key: "k1", ID: "ch_c", Amount: 100, Currency: "EUR", Customer: "c1", Replica: "p1", Time: t0.Add(2 * time.Second)},
	}
	var want []ledger.Entry
	for i, e := range in {
		got, err := l.Append(e)
		if err != nil {
			t.Fatalf("Append(%d): %v", i, err)
		}
		e.Seq = uint64(i + 1)
		e.Repeat = i == 2
		if diff := cmp.Diff(e, got); diff != "" {
			t.Errorf("Append(%d) returned (-want +got):\n%s", i, diff)
		}
		want = append(want, e)
	}
	all, err := l.All()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("All (-want +got):\n%s", diff)
	}
	first, ok, err := l.Get("k1")
	if err != nil || !ok || first.ID != "ch_a" {
		t.Errorf("Get(k1) = %+v, %v, %v; want the first application ch_a", first, ok, err)
	}
	for _, e := range want {
		got, ok, err := l.ByID(e.ID)
		if err != nil || !ok || !cmp.Equal(got, e) {
			t.Errorf("ByID(%s) = %+v, %v, %v; want %+v", e.ID, got, ok, err, e)
		}
	}
	if _, ok, err := l.ByID("ch_none"); ok || err != nil {
		t.Errorf("ByID(ch_none) = %v, %v; want false, nil", ok, err)
	}
	if _, ok, err := l.Get("none"); ok || err != nil {
		t.Errorf("Get(none) = %v, %v; want false, nil", ok, err)
	}
}

func TestAppendFillsIDAndTime(t *testing.T) {
	l, _ := open(t)
	before := time.Now()
	e, err := l.Append(ledger.Entry{Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.ID) != len("ch_")+16 || e.ID[:3] != "ch_" {
		t.Errorf("generated ID = %q, want ch_ and 16 hex digits", e.ID)
	}
	if e.Time.Before(before) || e.Time.Location() != time.UTC {
		t.Errorf("generated Time = %v, want a UTC time after %v", e.Time, before)
	}
}

func TestAppendRefuses(t *testing.T) {
	l, _ := open(t)
	if _, err := l.Append(ledger.Entry{Key: "k", ID: "ch_x"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		e    ledger.Entry
	}{
		{"empty key", ledger.Entry{ID: "ch_y"}},
		{"id taken", ledger.Entry{Key: "k2", ID: "ch_x"}},
	} {
		if got, err := l.Append(tc.e); err == nil {
			t.Errorf("%s: Append = %+v, nil; want an error", tc.name, got)
		}
	}
	all, _ := l.All()
	if len(all) != 1 {
		t.Errorf("after refused appends: %d entries, want 1", len(all))
	}
}

func TestReopenAndReadFile(t *testing.T) {
	l, path := open(t)
	for _, k := range []string{"a", "b", "a"} {
		if _, err := l.Append(ledger.Entry{Key: k}); err != nil {
			t.Fatal(err)
		}
	}
	want, _ := l.All()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := ledger.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadFile (-All before close +got):\n%s", diff)
	}
	got, err = ledger.ReadDir(filepath.Dir(path))
	if err != nil || !cmp.Equal(want, got) {
		t.Errorf("ReadDir = %v, %v; want the same entries as ReadFile", got, err)
	}

	l2, err := ledger.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l2.Close() }()
	e, err := l2.Append(ledger.Entry{Key: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != 4 || !e.Repeat {
		t.Errorf("after reopening, Append = seq %d repeat %v; want seq 4 repeat true", e.Seq, e.Repeat)
	}
}

func TestReadFileMissingIsEmpty(t *testing.T) {
	got, err := ledger.ReadFile(filepath.Join(t.TempDir(), "none.db"))
	if got != nil || err != nil {
		t.Errorf("ReadFile(missing) = %v, %v; want nil, nil", got, err)
	}
}

func TestReadFileOfHeldFileFails(t *testing.T) {
	_, path := open(t)
	start := time.Now()
	got, err := ledger.ReadFile(path)
	if err == nil {
		t.Fatalf("ReadFile of a file held open = %v, nil; want a timeout error", got)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("ReadFile gave up after %v, want about 1s", d)
	}
}

func TestClosed(t *testing.T) {
	l, _ := open(t)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if _, err := l.Append(ledger.Entry{Key: "k"}); !errors.Is(err, ledger.ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if _, err := l.All(); !errors.Is(err, ledger.ErrClosed) {
		t.Errorf("All after Close = %v, want ErrClosed", err)
	}
	if _, _, err := l.ByID("x"); !errors.Is(err, ledger.ErrClosed) {
		t.Errorf("ByID after Close = %v, want ErrClosed", err)
	}
}

func TestConcurrentAppends(t *testing.T) {
	l, _ := open(t)
	const workers, each = 8, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if _, err := l.Append(ledger.Entry{Key: fmt.Sprintf("w%d-%d", w, i%5)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	all, err := l.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != workers*each {
		t.Fatalf("got %d entries, want %d", len(all), workers*each)
	}
	repeats := 0
	for i, e := range all {
		if e.Seq != uint64(i+1) {
			t.Errorf("entry %d has seq %d, want %d", i, e.Seq, i+1)
		}
		if e.Repeat {
			repeats++
		}
	}
	if want := workers * (each - 5); repeats != want {
		t.Errorf("got %d repeats, want %d", repeats, want)
	}
	r := ledger.Audit(all, nil)
	if len(r.Duplicates) != workers*5 {
		t.Errorf("Audit found %d duplicate keys, want %d", len(r.Duplicates), workers*5)
	}
}

func TestAudit(t *testing.T) {
	e := func(key, replica string, seq uint64) ledger.Entry {
		return ledger.Entry{Key: key, Replica: replica, Seq: seq}
	}
	for _, tc := range []struct {
		name    string
		entries []ledger.Entry
		acked   []string
		want    ledger.Report
		ok      bool
	}{
		{name: "empty", want: ledger.Report{}, ok: true},
		{
			name:    "clean",
			entries: []ledger.Entry{e("a", "p1", 1), e("b", "p2", 1), e("c", "p3", 1)},
			acked:   []string{"a", "b", "a"},
			want:    ledger.Report{Entries: 3, Keys: 3, Unacknowledged: 1},
			ok:      true,
		},
		{
			name:    "duplicate across replicas and lost",
			entries: []ledger.Entry{e("b", "p1", 1), e("a", "p1", 2), e("b", "p2", 1)},
			acked:   []string{"a", "b", "z", "y"},
			want: ledger.Report{
				Entries: 3, Keys: 2,
				Duplicates: []ledger.Duplicate{{Key: "b", Entries: []ledger.Entry{e("b", "p1", 1), e("b", "p2", 1)}}},
				Lost:       []string{"y", "z"},
			},
		},
		{
			name:    "duplicate on one replica",
			entries: []ledger.Entry{e("a", "p1", 1), {Key: "a", Replica: "p1", Seq: 2, Repeat: true}},
			want: ledger.Report{
				Entries: 2, Keys: 1, Unacknowledged: 1,
				Duplicates: []ledger.Duplicate{{Key: "a", Entries: []ledger.Entry{e("a", "p1", 1), {Key: "a", Replica: "p1", Seq: 2, Repeat: true}}}},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ledger.Audit(tc.entries, tc.acked)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Audit (-want +got):\n%s", diff)
			}
			if got.OK() != tc.ok {
				t.Errorf("OK() = %v, want %v", got.OK(), tc.ok)
			}
		})
	}
}

func BenchmarkAppend(b *testing.B) {
	l, err := ledger.Open(filepath.Join(b.TempDir(), ledger.FileName))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := l.Append(ledger.Entry{Key: fmt.Sprint("k", i), Amount: 1234, Currency: "EUR", Customer: "c1", Replica: "p1"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendParallel(b *testing.B) {
	l, err := ledger.Open(filepath.Join(b.TempDir(), ledger.FileName))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Append(ledger.Entry{Key: "k", Amount: 1234, Currency: "EUR", Customer: "c1", Replica: "p1"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
