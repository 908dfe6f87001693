package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/keelhq/keel/chaos/monkey"
)

func chaosMonkeyCommand() *command {
	return &command{
		name:    "monkey",
		summary: "kill replicas at random times, never fewer than a minimum alive",
		run:     runChaosMonkey,
	}
}

const chaosMonkeyHelp = `
Kill replicas at random times, like Chaos Monkey, with guards: the gaps
between kills are exponentially distributed with mean -mean (at least
-min-gap), drawn from a seeded generator whose seed is logged so that a run
can be repeated; right before each kill the live replicas are counted and
the kill is skipped unless more than -min-alive are alive. Every action is
logged to stderr; a summary is printed to stdout at the end.

Targets are either the processes named by pid files (-pidfiles 'run/*.pid';
a target's name is its file's base name, and a pid that no longer runs is
dead), or -replicas copies of the command after the flags, which keel starts,
restarts -restart-delay after they die, and stops at the end. In the
command's arguments {replica} becomes the replica's number, which is also in
the environment as KEEL_REPLICA.

  keel chaos monkey -pidfiles 'run/*.pid' -mean 10s -min-alive 2 -signal KILL -seed 42 -dry-run -duration 1m
  keel chaos monkey -replicas 3 -mean 5s -duration 5m -- ./server -port 80{replica}

It runs until -duration has passed, or until SIGINT or SIGTERM.`

func runChaosMonkey(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "chaos monkey", "(-pidfiles glob | -replicas n -- command [args]) [flags]", chaosMonkeyHelp)
	pidfiles := fs.String("pidfiles", "", "kill the processes named by the pid files matching `glob`")
	replicas := fs.Int("replicas", 0, "run `n` copies of the command after the flags and kill those")
	restartDelay := fs.Duration("restart-delay", monkey.DefaultRestartDelay, "with -replicas: restart a dead replica after this `delay`")
	pidDir := fs.String("pid-dir", "", "with -replicas: write a pid file per replica into `dir`")
	mean := fs.Duration("mean", monkey.DefaultMean, "mean `gap` between kills")
	minGap := fs.Duration("min-gap", 0, "smallest `gap` between kills")
	minAlive := fs.Int("min-alive", monkey.DefaultMinAlive, "never leave fewer than `n` live replicas (at least 1)")
	sig := fs.String("signal", "KILL", "`signal` to send: KILL, TERM, INT, QUIT, HUP, USR1, USR2, or restart (with -replicas: stop gracefully and start again at once)")
	seed := fs.Uint64("seed", 0, "`seed` of the random choices; 0 picks one (it is logged)")
	dryRun := fs.Bool("dry-run", false, "log what would be killed and kill nothing")
	duration := fs.Duration("duration", 0, "stop after this `long`; 0 runs until SIGINT or SIGTERM")
	startDelay := fs.Duration("start-delay", 0, "no kills during the first `delay`")
	window := fs.String("window", "", "kill only between these times of day, `HH:MM-HH:MM` in local time (may wrap past midnight)")
	jsonLogs := fs.Bool("json", false, "log JSON lines instead of text")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	usageErr := func(format string, args ...any) int {
		say(e.stderr, "keel chaos monkey: "+format+"\n", args...)
		return exitUsage
	}
	command := fs.Args()
	switch {
	case *pidfiles == "" && *replicas == 0:
		return usageErr("give -pidfiles or -replicas and a command")
	case *pidfiles != "" && *replicas != 0:
		return usageErr("-pidfiles and -replicas are exclusive")
	case *pidfiles != "" && len(command) > 0:
		return usageErr("unexpected argument %q: a command goes with -replicas", command[0])
	case *replicas < 0:
		return usageErr("-replicas %d is negative", *replicas)
	case *replicas > 0 && len(command) == 0:
		return usageErr("-replicas needs a command after the flags")
	case *minAlive < 1:
		return usageErr("-min-alive %d: at least 1 replica must stay alive", *minAlive)
	}
	if *pidfiles != "" {
		if _, err := filepath.Match(*pidfiles, ""); err != nil {
			return usageErr("-pidfiles %q: %v", *pidfiles, err)
		}
	}
	daily, err := monkey.ParseWindow(*window, time.Local)
	if err != nil {
		return usageErr("-window: %v", err)
	}
	cfg := monkey.Config{
		Mean:     *mean,
		MinGap:   *minGap,
		MinAlive: *minAlive,
		Seed:     *seed,
		DryRun:   *dryRun,
		Schedule: monkey.Schedule{StartDelay: *startDelay, Duration: *duration, Daily: daily},
	}
	if strings.EqualFold(*sig, "restart") {
		if *replicas == 0 {
			return usageErr("-signal restart needs -replicas (pid files cannot be restarted)")
		}
		cfg.Restart = true
	} else if cfg.Signal, err = monkey.ParseSignal(*sig); err != nil {
		return usageErr("-signal: %v", err)
	}

	// The log and the replicas' output share these writers.
	stdout, stderr := syncWriter(e.stdout), syncWriter(e.stderr)
	var h slog.Handler = slog.NewTextHandler(stderr, nil)
	if *jsonLogs {
		h = slog.NewJSONHandler(stderr, nil)
	}
	log := slog.New(h)
	cfg.Logger = log

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	var procs *monkey.Processes
	if *pidfiles != "" {
		cfg.Supervisor = monkey.PIDFiles{Pattern: *pidfiles}
	} else {
		procs, err = monkey.StartProcesses(monkey.ProcessesConfig{
			Name:         "replica",
			Replicas:     *replicas,
			Command:      replicaCommand(command, stdout, stderr),
			RestartDelay: *restartDelay,
			PIDDir:       *pidDir,
			Logger:       log,
		})
		if err != nil {
			say(e.stderr, "keel chaos monkey: %v\n", err)
			return exitFailure
		}
		cfg.Supervisor = procs
	}
	code := exitOK
	k, err := monkey.New(cfg)
	if err != nil {
		say(e.stderr, "keel chaos monkey: %v\n", err)
		code = exitUsage
	} else {
		rep, err := k.Run(ctx)
		if err != nil && !errors.Is(err, context.Canceled) {
			say(e.stderr, "keel chaos monkey: %v\n", err)
			code = exitFailure
		}
		failed := 0
		for _, kill := range rep.Kills {
			if kill.Err != nil {
				failed++
			}
		}
		say(stdout, "seed=%d kills=%d failed=%d skipped=%d dry_run=%t\n",
			rep.Seed, len(rep.Kills)-failed, failed, rep.Skipped, *dryRun)
	}
	if procs != nil {
		closeCtx, cancel := context.WithTimeout(context.Background(), 2*monkey.DefaultStopTimeout)
		defer cancel()
		if err := procs.Close(closeCtx); err != nil {
			say(e.stderr, "keel chaos monkey: stopping the replicas: %v\n", err)
			code = max(code, exitFailure)
		}
	}
	return code
}

// replicaCommand returns the command of replica i: args with {replica}
// replaced by i, KEEL_REPLICA=i in the environment, output to stdout and
// stderr.
func replicaCommand(args []string, stdout, stderr io.Writer) func(int) *exec.Cmd {
	return func(i int) *exec.Cmd {
		n := strconv.Itoa(i)
		argv := make([]string, len(args))
		for j, a := range args {
			argv[j] = strings.ReplaceAll(a, "{replica}", n)
		}
		cmd := exec.Command(argv[0], argv[1:]...) //nolint:gosec // the operator's own command
		cmd.Env = append(os.Environ(), "KEEL_REPLICA="+n)
		cmd.Stdout, cmd.Stderr = stdout, stderr
		return cmd
	}
}

// syncWriter makes w safe for the concurrent writes of the log and of the
// goroutines that copy the replicas' output. A file is returned as it is:
// its writes are atomic system calls, and the replicas then write to it
// directly.
func syncWriter(w io.Writer) io.Writer {
	if _, ok := w.(*os.File); ok {
		return w
	}
	return &lockedWriter{w: w}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
