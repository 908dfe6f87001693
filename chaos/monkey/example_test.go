package monkey_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/keelhq/keel/chaos/monkey"
)

// replicas is a fixed set of targets for the examples' dry runs.
type replicas []string

func (r replicas) Targets() []monkey.Target {
	ts := make([]monkey.Target, len(r))
	for i, name := range r {
		ts[i] = monkey.Target{Name: name, PID: 1000 + i, Alive: true}
	}
	return ts
}

// A dry run logs what the killer would kill. The seed makes the choice of
// targets repeatable.
func ExampleKiller_Run() {
	// Drop the time from the log so that the output is the same every run.
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	k := monkey.MustNew(monkey.Config{
		Supervisor: replicas{"api-0", "api-1", "api-2"},
		Mean:       20 * time.Millisecond,
		MinAlive:   2,
		Seed:       42,
		DryRun:     true,
		Schedule:   monkey.Schedule{Duration: 60 * time.Millisecond},
		Logger:     log,
	})
	rep, err := k.Run(context.Background())
	if err != nil {
		fmt.Println(err)
	}
	fmt.Println("would kill:", len(rep.Kills))
	// Output:
	// level=INFO msg="chaos monkey started" monkey=monkey seed=42 mean=20ms min_gap=0s min_alive=2 action=SIGKILL dry_run=true start_delay=0s duration=60ms window=""
	// level=INFO msg="chaos monkey would kill (dry run)" monkey=monkey seed=42 target=api-1 pid=1001 live=3 signal=SIGKILL
	// level=INFO msg="chaos monkey would kill (dry run)" monkey=monkey seed=42 target=api-1 pid=1001 live=3 signal=SIGKILL
	// level=INFO msg="chaos monkey would kill (dry run)" monkey=monkey seed=42 target=api-0 pid=1000 live=3 signal=SIGKILL
	// level=INFO msg="chaos monkey stopped" monkey=monkey seed=42 kills=3 failed=0 skipped=0 dry_run=true
	// would kill: 3
}

// StartProcesses runs replicas of a command and restarts them when they
// die; it is the Supervisor a Killer kills from.
func ExampleStartProcesses() {
	p, err := monkey.StartProcesses(monkey.ProcessesConfig{
		Name:         "sleeper",
		Replicas:     2,
		Command:      func(int) *exec.Cmd { return exec.Command("sleep", "60") },
		RestartDelay: 100 * time.Millisecond,
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range p.Targets() {
		fmt.Println(t.Name, "alive:", t.Alive)
	}
	if err := p.Close(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// sleeper-0 alive: true
	// sleeper-1 alive: true
}

// PIDFiles reads targets from pid files that another supervisor writes.
func ExamplePIDFiles() {
	dir, err := os.MkdirTemp("", "pids")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if err := os.WriteFile(filepath.Join(dir, "me.pid"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range (monkey.PIDFiles{Pattern: filepath.Join(dir, "*.pid")}).Targets() {
		fmt.Println(t.Name, "alive:", t.Alive)
	}
	// Output:
	// me alive: true
}

// A daily window can wrap past midnight.
func ExampleParseWindow() {
	w, err := monkey.ParseWindow("22:00-02:00", time.UTC)
	if err != nil {
		fmt.Println(err)
		return
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	fmt.Println(w.Contains(at), w.Next(at).Format(time.DateTime))
	// Output:
	// false 2026-03-01 22:00:00
}
