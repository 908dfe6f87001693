package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keelhq/keel/gateway"
)

// Tick is the data of a stream's "snapshot" event: the status now and the
// points that are new since the previous tick. The first tick of a stream
// carries the whole history. The newest point of one tick may come again,
// updated, in the next: clients replace a point whose Time they already have.
type Tick struct {
	Time   time.Time       `json:"time"`
	Status gateway.Status  `json:"status"`
	Points []gateway.Point `json:"points"`
	// First is true in a stream's first tick: the client has just
	// (re)connected and gets the whole history.
	First bool `json:"first,omitempty"`
	// IntervalMS and HistoryMS repeat the Config, in the first tick only.
	IntervalMS int64 `json:"interval_ms,omitempty"`
	HistoryMS  int64 `json:"history_ms,omitempty"`
}

// stream writes server-sent events to one client.
type stream struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf bytes.Buffer
}

// event buffers one event; an empty id means none.
func (s *stream) event(name, id string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if id != "" {
		s.buf.WriteString("id: ")
		s.buf.WriteString(id)
		s.buf.WriteByte('\n')
	}
	s.buf.WriteString("event: ")
	s.buf.WriteString(name)
	s.buf.WriteString("\ndata: ")
	s.buf.Write(data) // encoding/json never writes a raw newline
	s.buf.WriteString("\n\n")
	return nil
}

// flush sends what was buffered.
func (s *stream) flush() error {
	if s.buf.Len() == 0 {
		return nil
	}
	// Not every ResponseWriter can set deadlines; the write still happens.
	if err := s.rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	_, err := s.w.Write(s.buf.Bytes())
	s.buf.Reset()
	if err != nil {
		return err
	}
	return s.rc.Flush()
}

// serveStream is GET /api/stream. It runs until the client goes away, a
// write fails or Shutdown is called, on the request's goroutine.
func (d *Dashboard) serveStream(w http.ResponseWriter, r *http.Request) {
	if err := d.acquire(); err != nil {
		w.Header().Set("Retry-After", "5")
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer d.release()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	s := &stream{w: w, rc: http.NewResponseController(w)}

	now := time.Now()
	st := d.src.Status()
	// Event ids are "<epoch>-<seq>": a source that restarted (a new
	// Status.Started) numbers its events from 1 again.
	epoch := "0"
	if !st.Started.IsZero() {
		epoch = strconv.FormatInt(st.Started.UnixNano(), 10)
	}
	// A browser that reconnects sends the id of the last event it got, and
	// gets the events after it.
	var seq uint64
	if e, n, ok := strings.Cut(r.Header.Get("Last-Event-ID"), "-"); ok && e == epoch {
		seq, _ = strconv.ParseUint(n, 10, 64)
	}

	s.buf.WriteString("retry: 2000\n\n") // reconnect after 2s
	last := now.Add(-d.cfg.History)      // time of the newest point sent
	tick := Tick{Time: now, Status: st, First: true,
		IntervalMS: d.cfg.Interval.Milliseconds(), HistoryMS: d.cfg.History.Milliseconds()}
	tick.Points, last = d.newPoints(last)
	if err := s.event("snapshot", "", tick); err != nil {
		return
	}

	ticker := time.NewTicker(d.cfg.Interval)
	defer ticker.Stop()
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for {
		evs, changed := d.src.Events(seq)
		for _, e := range evs {
			if err := s.event("timeline", epoch+"-"+strconv.FormatUint(e.Seq, 10), e); err != nil {
				return
			}
			seq = e.Seq
		}
		if err := s.flush(); err != nil {
			return
		}
		select {
		case <-changed:
		case <-ticker.C:
			tick = Tick{Time: time.Now(), Status: d.src.Status()}
			tick.Points, last = d.newPoints(last)
			if err := s.event("snapshot", "", tick); err != nil {
				return
			}
		case <-beat.C:
			s.buf.WriteString(": keep-alive\n\n")
		case <-r.Context().Done():
			return
		case <-d.done:
			return
		}
	}
}

// newPoints returns the points from last on (the point at last again, as it
// may have been updated) and the time of the newest.
func (d *Dashboard) newPoints(last time.Time) ([]gateway.Point, time.Time) {
	pts := d.src.Series(last)
	i := 0
	for i < len(pts) && pts[i].Time.Before(last) {
		i++
	}
	pts = pts[i:]
	if len(pts) > 0 {
		last = pts[len(pts)-1].Time
	}
	if pts == nil {
		pts = []gateway.Point{}
	}
	return pts, last
}
