package boltstore

import (
	"context"
	"log/slog"
	"time"
)

// maxReapRounds bounds how many batches one tick of the background reaper
// deletes, so that a huge backlog cannot keep the writer busy for long; the
// rest waits for the next tick.
const maxReapRounds = 100

// reapLoop is the background reaper. Close stops it (stopCtx) and waits for
// it (reaped).
func (s *Store) reapLoop() {
	defer close(s.reaped)
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for {
		select {
		case <-s.stopCtx.Done():
			return
		case <-tick.C:
		}
		s.reapOnce(s.stopCtx)
	}
}

// reapOnce deletes expired records, batch by batch, until a batch comes back
// short, ctx ends or maxReapRounds batches ran.
func (s *Store) reapOnce(ctx context.Context) {
	total := 0
	for range maxReapRounds {
		n, err := s.Reap(ctx, time.Now(), s.batch)
		total += n
		if err != nil {
			if ctx.Err() == nil {
				s.log.LogAttrs(ctx, slog.LevelWarn, "boltstore: reap failed",
					slog.String("path", s.db.Path()), slog.Any("error", err))
			}
			break
		}
		if n < s.batch {
			break
		}
	}
	if total > 0 {
		s.log.LogAttrs(ctx, slog.LevelDebug, "boltstore: reaped expired records",
			slog.String("path", s.db.Path()), slog.Int("records", total))
	}
}
