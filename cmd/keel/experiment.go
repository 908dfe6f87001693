package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/keelhq/keel/chaos/experiment"
)

// experimentTools lists the "keel experiment" subcommands.
func experimentTools() []*command {
	return []*command{
		{name: "run", summary: "run an experiment and report whether its hypothesis held", run: runExperimentRun},
		{name: "validate", summary: "check an experiment file and print every error", run: runExperimentValidate},
	}
}

func experimentCommand() *command {
	return &command{
		name:    "experiment",
		summary: "run declarative chaos experiments: hypothesis, method, rollbacks, verdict",
		run:     runExperiment,
	}
}

func runExperiment(ctx context.Context, e *env, args []string) int {
	return runGroup(ctx, e, group{
		name:     "experiment",
		member:   "command",
		heading:  "Commands",
		synopsis: "<command> [flags] experiment.yaml",
		hint:     `Run "keel experiment <command> -h" for its flags. See docs/chaos.md, "Experiments".`,
		members:  experimentTools,
	}, args)
}

const experimentRunHelp = `
Run a chaos experiment: start its services, send its load, check its
steady-state hypothesis before the method, after each step of the method
and one window after it, then undo the method's faults and partitions, run
the rollbacks and stop the services — whatever happened, also on SIGINT or
SIGTERM. ${VAR} in the file is replaced from the environment.

Exit status: 0 when the hypothesis held throughout, 1 when it was violated
or the run failed (a step, a service, an interruption), 2 when the file is
invalid.`

func runExperimentRun(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "experiment run", "[flags] experiment.yaml", experimentRunHelp)
	journalPath := fs.String("journal", "", "write the journal, as JSON, to `file`")
	reportPath := fs.String("report", "", "write a self-contained HTML report to `file`")
	logDir := fs.String("logs", "", "write each service's output to `dir`/<service>.log (default: discarded)")
	jsonLogs := fs.Bool("json", false, "log JSON lines instead of text")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 1 {
		say(e.stderr, "keel experiment run: give one experiment file\n")
		return exitUsage
	}
	x, err := loadExperiment(fs.Arg(0), e.getenv)
	if err != nil {
		printConfigErrors(e, err)
		return exitUsage
	}
	var h slog.Handler = slog.NewTextHandler(e.stderr, nil)
	if *jsonLogs {
		h = slog.NewJSONHandler(e.stderr, nil)
	}
	cfg := experiment.Config{Experiment: x, Logger: slog.New(h)}
	var logs []*os.File
	defer func() {
		for _, f := range logs {
			_ = f.Close()
		}
	}()
	if *logDir != "" {
		if err := os.MkdirAll(*logDir, 0o750); err != nil {
			say(e.stderr, "keel experiment run: %v\n", err)
			return exitFailure
		}
		cfg.ServiceOutput = func(name string) io.Writer {
			f, err := os.OpenFile(filepath.Join(*logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600) //nolint:gosec // the operator's -logs directory and the file's own service names
			if err != nil {
				say(e.stderr, "keel experiment run: %v\n", err)
				return nil
			}
			logs = append(logs, f)
			return f
		}
	}
	r, err := experiment.New(cfg)
	if err != nil {
		say(e.stderr, "keel experiment run: %v\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	j, runErr := r.Run(ctx)
	code := exitOK
	if !j.Held {
		code = exitFailure
	}
	if *journalPath != "" {
		if err := writeFile(*journalPath, j.WriteJSON); err != nil {
			say(e.stderr, "keel experiment run: journal: %v\n", err)
			code = exitFailure
		}
	}
	if *reportPath != "" {
		if err := writeFile(*reportPath, j.WriteReport); err != nil {
			say(e.stderr, "keel experiment run: report: %v\n", err)
			code = exitFailure
		}
	}
	printSummary(e.stdout, j)
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		say(e.stderr, "keel experiment run: %v\n", runErr)
	}
	return code
}

// printSummary prints the verdict and every failed probe evaluation.
func printSummary(w io.Writer, j *experiment.Journal) {
	failed := 0
	for _, p := range j.Probes {
		if p.OK {
			continue
		}
		failed++
		where := p.Phase + " the method"
		if p.Step >= 0 {
			where = "after step " + strconv.Itoa(p.Step+1)
		}
		say(w, "  FAIL %s %s: %s, want %s (%s)\n", where, p.Probe, p.ValueString(), p.Threshold, p.Detail)
	}
	say(w, "%s: %s after %v, seed %d, %d probe evaluations, %d failed\n",
		j.Experiment, j.Status, j.End.Sub(j.Start).Round(time.Millisecond), j.Seed, len(j.Probes), failed)
	say(w, "%s\n", j.Verdict)
}

// writeFile writes a file through write, atomically enough for a report:
// to a temporary file next to it, then renamed.
func writeFile(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	if err := write(tmp); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil { //nolint:gosec // a report meant to be read
		return err
	}
	return os.Rename(tmp.Name(), path)
}

const experimentValidateHelp = `
Check an experiment file without running anything: YAML syntax, unknown
keys, value formats, references to services, and the fields each probe and
step type needs. Each error is printed as file:line:column: key: message.
Exit status 0 means the file is valid, 2 that it is not.`

func runExperimentValidate(_ context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "experiment validate", "experiment.yaml", experimentValidateHelp)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 1 {
		say(e.stderr, "keel experiment validate: give one experiment file\n")
		return exitUsage
	}
	x, err := loadExperiment(fs.Arg(0), e.getenv)
	if err != nil {
		printConfigErrors(e, err)
		return exitUsage
	}
	say(e.stdout, "%s: valid (%d services, %d probes, %d steps, %d rollbacks)\n",
		fs.Arg(0), len(x.Services), len(x.SteadyState.Probes), len(x.Method), len(x.Rollbacks))
	return exitOK
}
