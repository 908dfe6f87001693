package monkey

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

var utc = time.UTC

func day(h, m int) time.Time { return time.Date(2000, 1, 1, h, m, 0, 0, utc) }

func TestWindowContainsAndNext(t *testing.T) {
	nineToThree := Window{From: 9 * time.Hour, To: 15 * time.Hour, Location: utc}
	night := Window{From: 22 * time.Hour, To: 2 * time.Hour, Location: utc}
	tests := []struct {
		name     string
		w        Window
		t        time.Time
		contains bool
		next     time.Time
	}{
		{"whole day", Window{}, day(3, 0), true, day(3, 0)},
		{"before open", nineToThree, day(8, 59), false, day(9, 0)},
		{"at open", nineToThree, day(9, 0), true, day(9, 0)},
		{"inside", nineToThree, day(14, 59), true, day(14, 59)},
		{"at close", nineToThree, day(15, 0), false, day(9, 0).AddDate(0, 0, 1)},
		{"after close", nineToThree, day(23, 0), false, day(9, 0).AddDate(0, 0, 1)},
		{"wrap: before midnight", night, day(23, 0), true, day(23, 0)},
		{"wrap: after midnight", night, day(1, 59), true, day(1, 59)},
		{"wrap: at close", night, day(2, 0), false, day(22, 0)},
		{"wrap: midday", night, day(12, 0), false, day(22, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.w.Contains(tt.t); got != tt.contains {
				t.Errorf("Contains(%v) = %v, want %v", tt.t, got, tt.contains)
			}
			if got := tt.w.Next(tt.t); !got.Equal(tt.next) {
				t.Errorf("Next(%v) = %v, want %v", tt.t, got, tt.next)
			}
		})
	}
}

func TestWindowOtherLocation(t *testing.T) {
	// 09:00-15:00 in UTC+5 is 04:00-10:00 UTC.
	w := Window{From: 9 * time.Hour, To: 15 * time.Hour, Location: time.FixedZone("X", 5*3600)}
	if got, want := w.Next(day(0, 0)), day(4, 0); !got.Equal(want) {
		t.Errorf("Next(00:00 UTC) = %v, want %v", got.UTC(), want)
	}
	if w.Contains(day(10, 0)) {
		t.Errorf("Contains(10:00 UTC) = true, want false")
	}
}

func TestScheduleAllowed(t *testing.T) {
	start := day(0, 0)
	s := Schedule{StartDelay: 10 * time.Minute, Duration: 2 * time.Hour, Daily: Window{From: time.Hour, To: 90 * time.Minute, Location: utc}}
	tests := []struct {
		at   time.Time
		want bool
	}{
		{day(0, 5), false},  // before the start delay, outside the window
		{day(0, 30), false}, // outside the window
		{day(1, 0), true},
		{day(1, 29), true},
		{day(1, 30), false},
		{day(2, 0), false}, // the run has ended
	}
	for _, tt := range tests {
		if got := s.Allowed(start, tt.at); got != tt.want {
			t.Errorf("Allowed(%v) = %v, want %v", tt.at.Format("15:04"), got, tt.want)
		}
	}
	if _, ok := (Schedule{Duration: time.Hour, Daily: Window{From: 2 * time.Hour, To: 3 * time.Hour, Location: utc}}).next(start, start); ok {
		t.Errorf("next: found an instant although the window opens after the run ends")
	}
}

func TestScheduleValidate(t *testing.T) {
	tests := []struct {
		name string
		s    Schedule
		want string // "" for valid
	}{
		{"zero", Schedule{}, ""},
		{"negative delay", Schedule{StartDelay: -1}, "monkey: invalid schedule: StartDelay -1ns is negative"},
		{"negative duration", Schedule{Duration: -1}, "monkey: invalid schedule: Duration -1ns is negative"},
		{"delay past end", Schedule{StartDelay: time.Minute, Duration: time.Minute}, "monkey: invalid schedule: StartDelay 1m0s is not before the end of Duration 1m0s"},
		{"from out of range", Schedule{Daily: Window{From: 24 * time.Hour}}, "monkey: invalid schedule: Window.From 24h0m0s is outside [0, 24h)"},
		{"to negative", Schedule{Daily: Window{To: -time.Hour}}, "monkey: invalid schedule: Window.To -1h0m0s is outside [0, 24h)"},
		{"empty window", Schedule{Daily: Window{From: time.Hour, To: time.Hour}}, "monkey: invalid schedule: Window.From and Window.To are both 1h0m0s: the window is empty"},
	}
	for _, tt := range tests {
		err := tt.s.Validate()
		got := ""
		if err != nil {
			got = err.Error()
			if !errors.Is(err, ErrSchedule) {
				t.Errorf("%s: error %v does not match ErrSchedule", tt.name, err)
			}
		}
		if got != tt.want {
			t.Errorf("%s: Validate() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseWindow(t *testing.T) {
	tests := []struct {
		in       string
		from, to time.Duration
		err      bool
	}{
		{"", 0, 0, false},
		{"09:00-15:00", 9 * time.Hour, 15 * time.Hour, false},
		{"22:30-02:15", 22*time.Hour + 30*time.Minute, 2*time.Hour + 15*time.Minute, false},
		{"00:00:30-00:01:00", 30 * time.Second, time.Minute, false},
		{"9:00-15:00", 0, 0, true},
		{"09:00", 0, 0, true},
		{"24:00-01:00", 0, 0, true},
		{"09:60-10:00", 0, 0, true},
		{"10:00-10:00", 0, 0, true},
		{"aa:bb-cc:dd", 0, 0, true},
	}
	for _, tt := range tests {
		w, err := ParseWindow(tt.in, utc)
		if (err != nil) != tt.err {
			t.Errorf("ParseWindow(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrSchedule) {
				t.Errorf("ParseWindow(%q) error %v does not match ErrSchedule", tt.in, err)
			}
			continue
		}
		if w.From != tt.from || w.To != tt.to {
			t.Errorf("ParseWindow(%q) = %v-%v, want %v-%v", tt.in, w.From, w.To, tt.from, tt.to)
		}
		if got := w.String(); got != tt.in && tt.in != "00:00:30-00:01:00" {
			t.Errorf("ParseWindow(%q).String() = %q, want the input", tt.in, got)
		}
	}
}

func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{"", "09:00-15:00", "22:30-02:15", "00:00:30-00:01:00", "24:00-01:00", "-", "1:2:3:4-5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseWindow(s, utc)
		if err != nil {
			return
		}
		if err := w.Validate(); err != nil {
			t.Fatalf("ParseWindow(%q) returned an invalid window: %v", s, err)
		}
		back, err := ParseWindow(w.String(), utc)
		if err != nil || back.From != w.From || back.To != w.To {
			t.Fatalf("ParseWindow(%q).String() = %q, which parses to %v-%v (%v), want %v-%v", s, w.String(), back.From, back.To, err, w.From, w.To)
		}
		// Next always lands inside the window, within a day.
		at := day(13, 7)
		n := w.Next(at)
		if !w.Contains(n) || n.Before(at) || n.Sub(at) > 24*time.Hour {
			t.Fatalf("window %q: Next(%v) = %v", s, at, n)
		}
	})
}

// TestKillerScheduleSynctest runs a dry-run killer for three fake days and
// checks that every kill falls inside the schedule.
func TestKillerScheduleSynctest(t *testing.T) {
	tests := []struct {
		name  string
		sched Schedule
	}{
		{"window", Schedule{StartDelay: 10 * time.Minute, Duration: 72 * time.Hour, Daily: Window{From: time.Hour, To: 2 * time.Hour, Location: utc}}},
		{"wrapping window", Schedule{Duration: 72 * time.Hour, Daily: Window{From: 23 * time.Hour, To: 30 * time.Minute, Location: utc}}},
		{"start delay only", Schedule{StartDelay: 5 * time.Hour, Duration: 10 * time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				k := MustNew(Config{
					Supervisor: staticTargets(5), Mean: 5 * time.Minute, Seed: 7,
					DryRun: true, Schedule: tt.sched, Logger: discard,
				})
				start := time.Now()
				rep, err := k.Run(t.Context())
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				if got := time.Since(start); got != tt.sched.Duration {
					t.Errorf("Run took %v, want exactly Duration %v", got, tt.sched.Duration)
				}
				if len(rep.Kills) < 10 {
					t.Fatalf("got %d kills, want at least 10", len(rep.Kills))
				}
				for _, kill := range rep.Kills {
					if !tt.sched.Allowed(start, kill.Time) {
						t.Errorf("kill at %v (+%v) is outside the schedule", kill.Time.Format("Jan 2 15:04:05"), kill.Time.Sub(start))
					}
					if !kill.DryRun {
						t.Errorf("kill %+v is not marked DryRun", kill)
					}
				}
			})
		})
	}
}

func BenchmarkScheduleAllowed(b *testing.B) {
	s := Schedule{StartDelay: time.Minute, Duration: 24 * time.Hour, Daily: Window{From: 9 * time.Hour, To: 15 * time.Hour, Location: utc}}
	start := day(0, 0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Allowed(start, start.Add(time.Duration(i%86400)*time.Second))
	}
}

func TestScheduleAllowedAllocs(t *testing.T) {
	s := Schedule{Daily: Window{From: 9 * time.Hour, To: 15 * time.Hour, Location: utc}}
	start := day(0, 0)
	if n := testing.AllocsPerRun(100, func() { s.Allowed(start, day(10, 0)) }); n != 0 {
		t.Errorf("Allowed allocates %v times per call, want 0", n)
	}
}
