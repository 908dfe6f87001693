package netfault

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestQdiscArgs(t *testing.T) {
	tests := []struct {
		link Link
		want string
	}{
		{Link{Rate: 1 << 20}, "tbf rate 8388608bit burst 10485 limit 262144"},
		{Link{Rate: 1000}, "tbf rate 8000bit burst 6056 limit 262144"},
		{Link{Rate: 100 << 20}, "tbf rate 838860800bit burst 1048576 limit 22020096"},
		{Link{Delay: 50 * time.Millisecond}, "netem limit 10000 delay 50000us"},
		{Link{Delay: 50 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.015, Rate: 125000}, "netem limit 10000 delay 50000us 5000us loss 1.5% rate 1000000bit"},
		{Link{Loss: 1}, "netem limit 10000 loss 100%"},
	}
	for _, tt := range tests {
		if got := strings.Join(qdiscArgs(tt.link), " "); got != tt.want {
			t.Errorf("qdiscArgs(%+v) = %q, want %q", tt.link, got, tt.want)
		}
	}
}

func TestLinkValidate(t *testing.T) {
	tests := []struct {
		link Link
		want string
	}{
		{Link{}, ""},
		{Link{Rate: -1}, "netfault: invalid argument: Link.Rate -1 is negative"},
		{Link{Rate: math.MaxInt64}, "netfault: invalid argument: Link.Rate 9223372036854775807 is too large"},
		{Link{Delay: -1}, "netfault: invalid argument: Link.Delay -1ns is negative"},
		{Link{Jitter: -1}, "netfault: invalid argument: Link.Jitter -1ns is negative"},
		{Link{Jitter: time.Millisecond}, "netfault: invalid argument: Link.Jitter 1ms needs a Delay"},
		{Link{Loss: 1.5}, "netfault: invalid argument: Link.Loss 1.5 is outside [0, 1]"},
		{Link{Loss: math.NaN()}, "netfault: invalid argument: Link.Loss NaN is outside [0, 1]"},
	}
	for _, tt := range tests {
		err := tt.link.Validate()
		got := ""
		if err != nil {
			got = err.Error()
			if !errors.Is(err, ErrConfig) {
				t.Errorf("%v does not match ErrConfig", err)
			}
		}
		if got != tt.want {
			t.Errorf("%+v.Validate() = %q, want %q", tt.link, got, tt.want)
		}
	}
}

func TestNames(t *testing.T) {
	pids := map[string]int{
		"keel-123-4-TestX-a": 123, "keel-9-1": 9, "keel-x-1-a": 0, "other-1-1": 0, "keel--1-1": 0, "keel-0-1-a": 0,
	}
	got := map[string]int{}
	for name := range pids {
		got[name] = ownerPID(name)
	}
	if diff := cmp.Diff(pids, got); diff != "" {
		t.Errorf("ownerPID (-want +got):\n%s", diff)
	}
	if got, want := sanitize("TestA/sub case#1"+strings.Repeat("x", 40)), "TestA_sub_case_1xxxxxxxxxxxxxxxx"; got != want {
		t.Errorf("sanitize = %q, want %q", got, want)
	}
	for name, want := range map[string]bool{"a": true, "gw-1": true, "0": true, "": false, "-a": false, "A": false, "a.b": false, "abcdefghijklmnop": false} {
		if got := validHostName(name); got != want {
			t.Errorf("validHostName(%q) = %v, want %v", name, got, want)
		}
	}
}

func FuzzLink(f *testing.F) {
	f.Add(int64(1<<20), int64(0), int64(0), 0.0)
	f.Add(int64(0), int64(time.Millisecond), int64(time.Microsecond), 0.5)
	f.Add(int64(-1), int64(-1), int64(0), 2.0)
	f.Fuzz(func(t *testing.T, rate, delay, jitter int64, loss float64) {
		l := Link{Rate: rate, Delay: time.Duration(delay), Jitter: time.Duration(jitter), Loss: loss}
		if l.Validate() != nil {
			return
		}
		args := qdiscArgs(l)
		if len(args) == 0 || (args[0] == "netem") != l.needsNetem() {
			t.Fatalf("qdiscArgs(%+v) = %q", l, args)
		}
		for _, a := range args {
			if a == "" || strings.ContainsAny(a, " -") {
				t.Fatalf("qdiscArgs(%+v) = %q: bad argument %q", l, args, a)
			}
		}
	})
}
