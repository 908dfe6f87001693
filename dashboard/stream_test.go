package dashboard

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keelhq/keel/gateway"
)

// sseEvent is one server-sent event.
type sseEvent struct {
	ID, Name, Data string
}

// readEvent reads the next event with data, skipping comments and
// retry-only blocks.
func readEvent(br *bufio.Reader) (sseEvent, error) {
	var ev sseEvent
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.Data != "" {
				return ev, nil
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"), strings.HasPrefix(line, "retry: "):
		case strings.HasPrefix(line, "id: "):
			ev.ID = line[len("id: "):]
		case strings.HasPrefix(line, "event: "):
			ev.Name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			ev.Data += line[len("data: "):]
		default:
			return ev, errors.New("unexpected line " + strconv.Quote(line))
		}
	}
}

// parseEvents splits a recorded stream into events, comments and retry
// lines.
func parseEvents(t *testing.T, raw string) (evs []sseEvent, comments int) {
	t.Helper()
	for line := range strings.SplitSeq(raw, "\n") {
		if strings.HasPrefix(line, ":") {
			comments++
		}
	}
	br := bufio.NewReader(strings.NewReader(raw))
	for {
		ev, err := readEvent(br)
		if errors.Is(err, io.EOF) {
			return evs, comments
		}
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
}

func decodeTick(t *testing.T, ev sseEvent) Tick {
	t.Helper()
	if ev.Name != "snapshot" {
		t.Fatalf("event %q (id %q), want a snapshot", ev.Name, ev.ID)
	}
	var tk Tick
	if err := json.Unmarshal([]byte(ev.Data), &tk); err != nil {
		t.Fatal(err)
	}
	return tk
}

func decodeEvent(t *testing.T, ev sseEvent) gateway.Event {
	t.Helper()
	if ev.Name != "timeline" {
		t.Fatalf("event %q, want a timeline event", ev.Name)
	}
	var e gateway.Event
	if err := json.Unmarshal([]byte(ev.Data), &e); err != nil {
		t.Fatal(err)
	}
	if _, seq, _ := strings.Cut(ev.ID, "-"); seq != strconv.FormatUint(e.Seq, 10) {
		t.Errorf("timeline event id %q, want <epoch>-%d", ev.ID, e.Seq)
	}
	return e
}

// clientStream is the client's end of a stream.
type clientStream struct {
	code   int
	header http.Header
	br     *bufio.Reader
}

// openStream GETs /api/stream from srv; the body is closed when the test
// ends (or ctx is canceled, which ends the stream).
func openStream(ctx context.Context, t *testing.T, srv *httptest.Server) clientStream {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return clientStream{code: resp.StatusCode, header: resp.Header, br: bufio.NewReader(resp.Body)}
}

// waitStreams waits until n streams are open, for at most 5 seconds.
func waitStreams(t *testing.T, d *Dashboard, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		d.mu.Lock()
		got := d.streams
		d.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d streams open, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStream runs a stream over a real connection: a first snapshot with
// the history, the kept events, then a new event as it is added, and the
// handler ends when the client goes away.
func TestStream(t *testing.T) {
	src := newFakeSource()
	started := time.Now().Add(-time.Hour).UTC()
	src.setStatus(testStatus(started))
	src.addPoints(testPoints(time.Now(), 10)...)
	old := src.addEvent(gateway.Event{Kind: "reload", Detail: "configuration reloaded"})
	d := MustNew(src, Config{Interval: 100 * time.Millisecond})
	srv := httptest.NewServer(d)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cs := openStream(ctx, t, srv)
	br := cs.br
	if cs.code != http.StatusOK {
		t.Fatalf("GET /api/stream = %d, want 200", cs.code)
	}
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-store"} {
		if got := cs.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	ev, err := readEvent(br)
	if err != nil {
		t.Fatal(err)
	}
	first := decodeTick(t, ev)
	if !first.First || first.IntervalMS != 100 || first.HistoryMS != DefaultHistory.Milliseconds() {
		t.Errorf("first tick: first %v interval_ms %d history_ms %d, want true 100 %d", first.First, first.IntervalMS, first.HistoryMS, DefaultHistory.Milliseconds())
	}
	if len(first.Points) != 10 {
		t.Errorf("first tick has %d points, want the 10 of the history", len(first.Points))
	}
	if diff := cmp.Diff(testStatus(started), first.Status); diff != "" {
		t.Errorf("first tick status (-want +got):\n%s", diff)
	}

	ev, err = readEvent(br)
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeEvent(t, ev); !cmp.Equal(got, old) {
		t.Errorf("kept event: got %+v, want %+v", got, old)
	}

	// A new event arrives as it happens; ticks keep coming in between.
	added := src.addEvent(gateway.Event{Kind: "breaker_open", Upstream: "api", Host: "10.0.0.3:8080", Detail: "api/10.0.0.3:8080: closed → open"})
	for {
		ev, err := readEvent(br)
		if err != nil {
			t.Fatalf("waiting for the timeline event: %v", err)
		}
		if ev.Name == "snapshot" {
			if tk := decodeTick(t, ev); tk.First {
				t.Error("a later tick says first")
			}
			continue
		}
		if got := decodeEvent(t, ev); !cmp.Equal(got, added) {
			t.Errorf("new event: got %+v, want %+v", got, added)
		}
		break
	}

	waitStreams(t, d, 1)
	cancel()
	waitStreams(t, d, 0) // the handler returned when the client went away
}

func TestStreamLimit(t *testing.T) {
	d := MustNew(newFakeSource(), Config{MaxStreams: 2})
	srv := httptest.NewServer(d)
	defer srv.Close()

	var cancels []context.CancelFunc
	defer func() {
		for _, c := range cancels {
			c()
		}
	}()
	open := func() clientStream {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		cancels = append(cancels, cancel)
		cs := openStream(ctx, t, srv)
		if cs.code == http.StatusOK {
			if _, err := readEvent(cs.br); err != nil {
				t.Fatal(err)
			}
		}
		return cs
	}
	for i := range 2 {
		if cs := open(); cs.code != http.StatusOK {
			t.Fatalf("stream %d: %d, want 200", i+1, cs.code)
		}
	}
	cs := open()
	if cs.code != http.StatusServiceUnavailable || cs.header.Get("Retry-After") == "" {
		t.Errorf("third stream: %d with Retry-After %q, want 503 with one", cs.code, cs.header.Get("Retry-After"))
	}
	if b, _ := io.ReadAll(cs.br); !strings.Contains(string(b), "too many open streams") {
		t.Errorf("third stream body %q, want the reason", b)
	}
	// The page and the snapshot are not streams.
	if r := get(t, d, "/api/snapshot"); r.code != http.StatusOK {
		t.Errorf("snapshot while streams are full: %d, want 200", r.code)
	}

	cancels[0]()
	waitStreams(t, d, 1)
	if cs := open(); cs.code != http.StatusOK {
		t.Errorf("stream after one closed: %d, want 200", cs.code)
	}
}

// streamRecorder is a ResponseWriter for streams run inside a synctest
// bubble, where real connections cannot be used.
type streamRecorder struct {
	mu     sync.Mutex
	header http.Header
	code   int
	buf    bytes.Buffer
	writes int
}

func newStreamRecorder() *streamRecorder { return &streamRecorder{header: http.Header{}} }

func (r *streamRecorder) Header() http.Header { return r.header }
func (r *streamRecorder) WriteHeader(code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.code = code
}
func (r *streamRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes++
	return r.buf.Write(p)
}
func (r *streamRecorder) Flush() {}

func (r *streamRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

// startStream runs a stream handler in the bubble until the returned
// function cancels it and waits for it to return.
func startStream(t *testing.T, d *Dashboard, header ...string) (*streamRecorder, func()) {
	t.Helper()
	w := newStreamRecorder()
	ctx, cancel := context.WithCancel(t.Context())
	req := httptest.NewRequest(http.MethodGet, "/api/stream", nil).WithContext(ctx)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.ServeHTTP(w, req)
	}()
	return w, func() {
		cancel()
		<-done
	}
}

// TestStreamCadence checks the stream's timing with a fake clock: one
// snapshot per Interval carrying the new points, events at once, a
// heartbeat every 15 seconds.
func TestStreamCadence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now().UTC() // 2000-01-01 00:00:00 in the bubble
		src := newFakeSource()
		src.setStatus(testStatus(start.Add(-time.Hour)))
		src.addPoints(testPoints(start, 3)...)
		d := MustNew(src, Config{Interval: time.Second})
		w, stop := startStream(t, d)
		synctest.Wait()

		evs, _ := parseEvents(t, w.String())
		if len(evs) != 1 {
			t.Fatalf("at start: %d events, want 1 snapshot", len(evs))
		}
		if tk := decodeTick(t, evs[0]); !tk.First || len(tk.Points) != 3 {
			t.Errorf("first tick: first %v with %d points, want true with 3", tk.First, len(tk.Points))
		}
		if !strings.HasPrefix(w.String(), "retry: 2000\n\n") {
			t.Errorf("stream starts %q, want a retry hint", w.String()[:min(20, len(w.String()))])
		}

		// Every second: one snapshot, with the newest point again (it may
		// have changed) and the new one.
		for i := range 3 {
			newest := start.Add(time.Duration(i) * time.Second)
			src.addPoints(gateway.Point{Time: newest, Requests: int64(1000 + i)})
			time.Sleep(time.Second)
			synctest.Wait()
			evs, _ = parseEvents(t, w.String())
			if got, want := len(evs), 2+i; got != want {
				t.Fatalf("after %ds: %d events, want %d", i+1, got, want)
			}
			tk := decodeTick(t, evs[len(evs)-1])
			var times []time.Time
			for _, p := range tk.Points {
				times = append(times, p.Time)
			}
			if want := []time.Time{newest.Add(-time.Second), newest}; !cmp.Equal(times, want) || tk.First {
				t.Errorf("tick %d: points at %v (first %v), want %v", i+1, times, tk.First, want)
			}
		}

		// An event goes out at once, without waiting for a tick.
		e := src.addEvent(gateway.Event{Kind: "replica_killed", Host: "10.0.0.2:8080", Detail: "SIGKILL"})
		synctest.Wait()
		evs, _ = parseEvents(t, w.String())
		if got := decodeEvent(t, evs[len(evs)-1]); !cmp.Equal(got, e) {
			t.Errorf("event: got %+v, want %+v", got, e)
		}

		// A keep-alive comment every 15 seconds.
		time.Sleep(15*time.Second - 3*time.Second - time.Nanosecond)
		synctest.Wait()
		if _, n := parseEvents(t, w.String()); n != 0 {
			t.Errorf("before 15s: %d keep-alives, want 0", n)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if _, n := parseEvents(t, w.String()); n != 1 {
			t.Errorf("at 15s: %d keep-alives, want 1", n)
		}
		stop()
	})
}

// TestStreamLastEventID checks that a reconnecting browser gets only the
// events it missed, unless the source restarted since.
func TestStreamLastEventID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		started := time.Now().Add(-time.Hour)
		src := newFakeSource()
		src.setStatus(gateway.Status{Started: started})
		for _, k := range []string{"reload", "host_ejected", "breaker_open"} {
			src.addEvent(gateway.Event{Kind: k})
		}
		d := MustNew(src, Config{})
		epoch := strconv.FormatInt(started.UnixNano(), 10)
		tests := []struct {
			lastID string
			want   []uint64
		}{
			{"", []uint64{1, 2, 3}},
			{epoch + "-1", []uint64{2, 3}},
			{epoch + "-3", nil},
			{"12345-1", []uint64{1, 2, 3}}, // another gateway process: its numbers are new
			{"1", []uint64{1, 2, 3}},
			{epoch + "-x", []uint64{1, 2, 3}},
		}
		for _, tt := range tests {
			w, stop := startStream(t, d, "Last-Event-ID", tt.lastID)
			synctest.Wait()
			stop()
			evs, _ := parseEvents(t, w.String())
			var got []uint64
			for _, ev := range evs[1:] {
				got = append(got, decodeEvent(t, ev).Seq)
				if !strings.HasPrefix(ev.ID, epoch+"-") {
					t.Errorf("event id %q, want the epoch %s first", ev.ID, epoch)
				}
			}
			if !cmp.Equal(got, tt.want) {
				t.Errorf("Last-Event-ID %q: got events %v, want %v", tt.lastID, got, tt.want)
			}
		}
	})
}

// TestShutdown checks that Shutdown ends the streams and waits for them,
// and that later streams are refused while the page is still served.
func TestShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := MustNew(newFakeSource(), Config{})
		_, stop1 := startStream(t, d)
		_, stop2 := startStream(t, d)
		synctest.Wait()
		if err := d.Shutdown(t.Context()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		d.mu.Lock()
		n := d.streams
		d.mu.Unlock()
		if n != 0 {
			t.Errorf("after Shutdown %d streams open, want 0", n)
		}
		stop1()
		stop2()

		w, stop := startStream(t, d)
		stop()
		if w.code != http.StatusServiceUnavailable {
			t.Errorf("stream after Shutdown: %d, want 503", w.code)
		}
		if r := get(t, d, "/"); r.code != http.StatusOK {
			t.Errorf("page after Shutdown: %d, want 200", r.code)
		}
		if err := d.Shutdown(t.Context()); err != nil {
			t.Errorf("second Shutdown: %v", err)
		}
	})
}

// TestShutdownContext checks that Shutdown gives up when its context ends
// before a stream handler has returned.
func TestShutdownContext(t *testing.T) {
	d := MustNew(newFakeSource(), Config{})
	if err := d.acquire(); err != nil { // a stream that has not returned yet
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := d.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown with a stream open and ctx done: %v, want context.Canceled", err)
	}
	d.release()
	if err := d.Shutdown(t.Context()); err != nil {
		t.Errorf("Shutdown once the stream returned: %v", err)
	}
}
