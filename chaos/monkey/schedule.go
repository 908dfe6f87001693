package monkey

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule says when a [Killer] may act. The zero Schedule allows every
// instant from the start of [Killer.Run] until its context ends.
type Schedule struct {
	// StartDelay is how long after the start of Run the first kill may
	// happen. Zero: at once. Negative values are invalid.
	StartDelay time.Duration
	// Duration is how long Run runs; it returns nil when it has elapsed.
	// Zero: until Run's context ends. Negative values are invalid.
	Duration time.Duration
	// Daily restricts kills to a time-of-day window. The zero Window is the
	// whole day.
	Daily Window
}

// Window is a daily time-of-day window, [From, To) in Location. From > To
// wraps past midnight (22:00 to 02:00). The zero Window is the whole day.
// A Window is a value; it is safe for concurrent use.
type Window struct {
	// From and To are offsets from midnight, in [0, 24h). From == To is
	// valid only when both are zero (the whole day).
	From, To time.Duration
	// Location is the time zone of From and To. Nil: time.Local.
	Location *time.Location
}

// ErrSchedule is matched by every error that Schedule.Validate and
// ParseWindow return.
var ErrSchedule = errors.New("monkey: invalid schedule")

// Validate reports the first invalid field.
func (s Schedule) Validate() error {
	switch {
	case s.StartDelay < 0:
		return fmt.Errorf("%w: StartDelay %v is negative", ErrSchedule, s.StartDelay)
	case s.Duration < 0:
		return fmt.Errorf("%w: Duration %v is negative", ErrSchedule, s.Duration)
	case s.Duration > 0 && s.StartDelay >= s.Duration:
		return fmt.Errorf("%w: StartDelay %v is not before the end of Duration %v", ErrSchedule, s.StartDelay, s.Duration)
	}
	return s.Daily.Validate()
}

// Validate reports whether From and To are in [0, 24h) and not equal unless
// both are zero.
func (w Window) Validate() error {
	const day = 24 * time.Hour
	switch {
	case w.From < 0 || w.From >= day:
		return fmt.Errorf("%w: Window.From %v is outside [0, 24h)", ErrSchedule, w.From)
	case w.To < 0 || w.To >= day:
		return fmt.Errorf("%w: Window.To %v is outside [0, 24h)", ErrSchedule, w.To)
	case w.From == w.To && w.From != 0:
		return fmt.Errorf("%w: Window.From and Window.To are both %v: the window is empty", ErrSchedule, w.From)
	}
	return nil
}

// allDay reports whether w is the whole day.
func (w Window) allDay() bool { return w.From == 0 && w.To == 0 }

func (w Window) loc() *time.Location {
	if w.Location == nil {
		return time.Local
	}
	return w.Location
}

// at returns the instant of time-of-day d on t's date in w's location.
func (w Window) at(t time.Time, d time.Duration) time.Time {
	y, m, day := t.Date()
	h := int(d / time.Hour)
	mi := int(d % time.Hour / time.Minute)
	s := int(d % time.Minute / time.Second)
	ns := int(d % time.Second)
	return time.Date(y, m, day, h, mi, s, ns, w.loc())
}

// Contains reports whether t falls inside the window.
func (w Window) Contains(t time.Time) bool {
	if w.allDay() {
		return true
	}
	t = t.In(w.loc())
	from, to := w.at(t, w.From), w.at(t, w.To)
	if w.From < w.To {
		return !t.Before(from) && t.Before(to)
	}
	return !t.Before(from) || t.Before(to)
}

// Next returns the earliest instant at or after t inside the window.
func (w Window) Next(t time.Time) time.Time {
	if w.Contains(t) {
		return t
	}
	lt := t.In(w.loc())
	if open := w.at(lt, w.From); open.After(t) {
		return open
	}
	y, m, d := lt.Date()
	tomorrow := time.Date(y, m, d+1, 12, 0, 0, 0, w.loc())
	return w.at(tomorrow, w.From)
}

// next returns the earliest instant at or after t at which a Run started at
// start may act, and false if there is none before the end of Duration.
func (s Schedule) next(start, t time.Time) (time.Time, bool) {
	if first := start.Add(s.StartDelay); t.Before(first) {
		t = first
	}
	t = s.Daily.Next(t)
	if s.Duration > 0 && !t.Before(start.Add(s.Duration)) {
		return time.Time{}, false
	}
	return t, true
}

// Allowed reports whether a Run started at start may act at now.
func (s Schedule) Allowed(start, now time.Time) bool {
	t, ok := s.next(start, now)
	return ok && t.Equal(now)
}

// ParseWindow parses a daily window written "HH:MM-HH:MM" (or with seconds,
// "HH:MM:SS-HH:MM:SS") in loc; loc nil means time.Local. The empty string is
// the whole day.
func ParseWindow(s string, loc *time.Location) (Window, error) {
	w := Window{Location: loc}
	if s == "" {
		return w, nil
	}
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return Window{}, fmt.Errorf("%w: window %q: want HH:MM-HH:MM", ErrSchedule, s)
	}
	var err error
	if w.From, err = parseTimeOfDay(from); err != nil {
		return Window{}, fmt.Errorf("%w: window %q: %w", ErrSchedule, s, err)
	}
	if w.To, err = parseTimeOfDay(to); err != nil {
		return Window{}, fmt.Errorf("%w: window %q: %w", ErrSchedule, s, err)
	}
	if err := w.Validate(); err != nil {
		return Window{}, err
	}
	return w, nil
}

// parseTimeOfDay parses "HH:MM" or "HH:MM:SS" (24-hour clock).
func parseTimeOfDay(s string) (time.Duration, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("time of day %q: want HH:MM or HH:MM:SS", s)
	}
	limits := [3]int{24, 60, 60}
	units := [3]time.Duration{time.Hour, time.Minute, time.Second}
	var d time.Duration
	for i, p := range parts {
		if len(p) != 2 {
			return 0, fmt.Errorf("time of day %q: want two digits per field", s)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n >= limits[i] {
			return 0, fmt.Errorf("time of day %q: field %q out of range [0, %d)", s, p, limits[i])
		}
		d += time.Duration(n) * units[i]
	}
	return d, nil
}

// String formats w as ParseWindow reads it; the whole day is "".
func (w Window) String() string {
	if w.allDay() {
		return ""
	}
	return formatTimeOfDay(w.From) + "-" + formatTimeOfDay(w.To)
}

func formatTimeOfDay(d time.Duration) string {
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	if s != 0 {
		return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%02d:%02d", h, m)
}
