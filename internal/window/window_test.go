package window

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// call is one recorded call for the reference models.
type call struct {
	at           int64
	failed, slow bool
}

// countModel recomputes the totals of the last size calls from scratch.
func countModel(calls []call, size int) Counts {
	if len(calls) > size {
		calls = calls[len(calls)-size:]
	}
	var c Counts
	for _, x := range calls {
		c.Calls++
		if x.failed {
			c.Failures++
		}
		if x.slow {
			c.Slow++
		}
	}
	return c
}

// timeModel recomputes the totals at now from scratch: calls whose bucket lies
// in the size buckets ending with now's bucket, where a call earlier than the
// newest bucket seen so far was counted in that newest bucket.
func timeModel(calls []call, size int, width, now int64) Counts {
	var c Counts
	cur := floorDiv(now, width)
	for _, x := range calls {
		b := floorDiv(x.at, width)
		if b <= cur-int64(size) || b > cur {
			continue
		}
		c.Calls++
		if x.failed {
			c.Failures++
		}
		if x.slow {
			c.Slow++
		}
	}
	return c
}

func TestCountTable(t *testing.T) {
	tests := []struct {
		name  string
		size  int
		calls []call
		want  Counts
	}{
		{"empty", 3, nil, Counts{}},
		{"partial", 3, []call{{failed: true}, {slow: true}}, Counts{Calls: 2, Failures: 1, Slow: 1}},
		{"full", 3, []call{{failed: true}, {}, {failed: true, slow: true}}, Counts{Calls: 3, Failures: 2, Slow: 1}},
		{"evicts oldest", 3, []call{{failed: true}, {}, {}, {}}, Counts{Calls: 3}},
		{"size one", 1, []call{{failed: true}, {slow: true}}, Counts{Calls: 1, Slow: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewCount(tt.size)
			for _, c := range tt.calls {
				w.Record(c.failed, c.slow)
			}
			if got := w.Counts(); got != tt.want {
				t.Errorf("Counts() got %+v, want %+v", got, tt.want)
			}
			w.Reset()
			if got := w.Counts(); got != (Counts{}) {
				t.Errorf("after Reset got %+v, want zero", got)
			}
		})
	}
}

func TestTimeTable(t *testing.T) {
	const s = int64(1e9)
	tests := []struct {
		name  string
		size  int
		calls []call
		now   int64
		want  Counts
	}{
		{"same bucket", 3, []call{{at: 0, failed: true}, {at: s - 1}}, s - 1, Counts{Calls: 2, Failures: 1}},
		{"within window", 3, []call{{at: 0}, {at: 2 * s, failed: true}}, 2*s + 5, Counts{Calls: 2, Failures: 1}},
		{"oldest bucket drops", 3, []call{{at: 0}, {at: 2 * s, failed: true}}, 3 * s, Counts{Calls: 1, Failures: 1}},
		{"idle longer than window", 3, []call{{at: 0}, {at: s}}, 100 * s, Counts{}},
		{"late time counts in newest", 3, []call{{at: 5 * s}, {at: 4 * s, slow: true}}, 7 * s, Counts{Calls: 2, Slow: 1}},
		{"negative times", 2, []call{{at: -1}, {at: 0}}, 0, Counts{Calls: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewTime(tt.size, s)
			for _, c := range tt.calls {
				w.Record(c.at, c.failed, c.slow)
			}
			if got := w.Counts(tt.now); got != tt.want {
				t.Errorf("Counts(%d) got %+v, want %+v", tt.now, got, tt.want)
			}
		})
	}
}

func TestRandomAgainstModels(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		r := rand.New(rand.NewPCG(seed, seed))
		checkCount(t, r)
		checkTime(t, r)
	}
}

func checkCount(t *testing.T, r *rand.Rand) {
	t.Helper()
	size := 1 + r.IntN(20)
	w := NewCount(size)
	var calls []call
	for range 200 {
		c := call{failed: r.IntN(3) == 0, slow: r.IntN(4) == 0}
		calls = append(calls, c)
		w.Record(c.failed, c.slow)
		if diff := cmp.Diff(countModel(calls, size), w.Counts()); diff != "" {
			t.Fatalf("count window size %d after %d calls (-want +got):\n%s", size, len(calls), diff)
		}
	}
}

func checkTime(t *testing.T, r *rand.Rand) {
	t.Helper()
	size := 1 + r.IntN(10)
	width := int64(1 + r.IntN(100))
	w := NewTime(size, width)
	var calls []call
	now := int64(r.IntN(1000)) - 500
	head := int64(math.MinInt64)
	for range 300 {
		now += int64(r.IntN(int(width)*3)) - int64(width) // mostly forwards, sometimes back
		if now > head {
			head = now
		}
		if r.IntN(4) == 0 {
			if diff := cmp.Diff(timeModel(calls, size, width, head), w.Counts(now)); diff != "" {
				t.Fatalf("time window size %d width %d at %d (-want +got):\n%s", size, width, now, diff)
			}
			continue
		}
		c := call{at: head, failed: r.IntN(3) == 0, slow: r.IntN(4) == 0}
		calls = append(calls, c)
		w.Record(now, c.failed, c.slow)
	}
}

func FuzzCount(f *testing.F) {
	f.Add(uint8(3), []byte{0, 1, 2, 3, 1, 1})
	f.Add(uint8(1), []byte{3, 3, 0})
	f.Fuzz(func(t *testing.T, size uint8, ops []byte) {
		n := int(size%64) + 1
		w := NewCount(n)
		var calls []call
		for _, op := range ops {
			c := call{failed: op&1 != 0, slow: op&2 != 0}
			calls = append(calls, c)
			w.Record(c.failed, c.slow)
		}
		if diff := cmp.Diff(countModel(calls, n), w.Counts()); diff != "" {
			t.Fatalf("size %d (-want +got):\n%s", n, diff)
		}
	})
}

func FuzzTime(f *testing.F) {
	f.Add(uint8(3), int64(10), []byte{0, 5, 20, 3, 40, 1})
	f.Add(uint8(1), int64(1), []byte{255, 0, 7})
	f.Fuzz(func(t *testing.T, size uint8, width int64, steps []byte) {
		n := int(size%32) + 1
		if width <= 0 || width > 1<<20 {
			width = 1 + width&0xffff
			if width <= 0 {
				width = 1
			}
		}
		w := NewTime(n, width)
		var calls []call
		now, head := int64(0), int64(math.MinInt64)
		for i, s := range steps {
			now += int64(s) - 64 // may go backwards
			if now > head {
				head = now
			}
			if i%3 == 2 {
				if diff := cmp.Diff(timeModel(calls, n, width, head), w.Counts(now)); diff != "" {
					t.Fatalf("size %d width %d at %d (-want +got):\n%s", n, width, now, diff)
				}
				continue
			}
			c := call{at: head, failed: s&1 != 0, slow: s&2 != 0}
			calls = append(calls, c)
			w.Record(now, c.failed, c.slow)
		}
	})
}

func TestNoAllocs(t *testing.T) {
	c := NewCount(10)
	tw := NewTime(10, 1e9)
	var now int64
	got := testing.AllocsPerRun(1000, func() {
		now += 1e8
		c.Record(true, false)
		tw.Record(now, false, true)
		_ = tw.Counts(now)
	})
	if got != 0 {
		t.Errorf("allocs per record got %v, want 0", got)
	}
}

func BenchmarkCountRecord(b *testing.B) {
	b.ReportAllocs()
	w := NewCount(100)
	for b.Loop() {
		w.Record(false, false)
	}
}

func BenchmarkTimeRecord(b *testing.B) {
	b.ReportAllocs()
	w := NewTime(60, 1e9)
	var now int64
	for b.Loop() {
		now += 1000
		w.Record(now, false, false)
	}
}
