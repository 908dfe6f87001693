package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/keelhq/keel/examples/payments/service"
	recservice "github.com/keelhq/keel/examples/recommendations/service"
	"github.com/keelhq/keel/internal/demo"
)

func demoCommand() *command {
	return &command{
		name:    "demo",
		summary: "start a small system, break it, and show that Keel keeps it upright",
		run:     runDemo,
	}
}

const demoHelp = `
Start, on 127.0.0.1, three payments replicas sharing a ledger, two
recommendations replicas and the gateway in front of them (real processes,
this binary run again), send charges and recommendation reads at a steady
rate, and break things: a payments replica is killed with SIGKILL about
every ten seconds and restarted a few seconds later, recommendations get
latency and then errors, one recommendations replica answers every request
with a 500 for a few seconds (its breaker opens), and the network of one
payments replica drops its answers for a few seconds. A status line shows what happens; the gateway's
live dashboard is at the admin URL printed at the start.

At the end, the verdict: success rate and latency of each API, retries,
hedges, breaker openings and stale answers, and the ledger audited against
what the client saw acknowledged: no charge applied twice, none lost.

With -no-resilience, the same run is made first with Keel's policies off
(a plain proxy, replicas that do not deduplicate, a client that still
retries), then with them on, and the two verdicts are shown side by side.

Exit status: 0 when the run with Keel applied no charge twice, lost none,
and met its targets (99.9% of charges, 99% of reads succeed); 1 otherwise.
Nothing but Go is needed: the stores are bbolt files in a temporary
directory. See docs/demo.md.`

func runDemo(ctx context.Context, e *env, args []string) int {
	if len(args) > 0 && args[0] == demo.ServiceCommand[1] {
		return runService(ctx, e, args[1:])
	}
	fs := newFlagSet(e, "demo", "[flags]", demoHelp)
	duration := fs.Duration("duration", demo.DefaultDuration, "how long the load and the chaos last (at least 10s)")
	seed := fs.Uint64("seed", 0, "seed of every random choice; 0 picks one (printed, so a run can be repeated)")
	noRes := fs.Bool("no-resilience", false, "first run without Keel's policies, then with them, and compare")
	charges := fs.Int("charges", demo.DefaultChargeRate, "charges per second")
	reads := fs.Int("reads", demo.DefaultReadRate, "recommendation reads per second")
	keep := fs.Bool("keep", false, "keep the run's files (logs, ledger, keel.yaml) in the temporary directory")
	exe := fs.String("keel", "", "the keel `binary` that runs the replicas and the gateway (default: this one)")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		say(e.stderr, "keel demo: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cfg := demo.Config{
		Duration: *duration, Seed: *seed, ChargeRate: *charges, ReadRate: *reads, Keep: *keep,
		Out: e.stdout, Live: isTerminal(e.stdout),
	}
	if *exe != "" {
		cfg.Command = []string{*exe}
	}
	if err := cfg.Validate(); err != nil {
		say(e.stderr, "keel %v\n", err)
		return exitUsage
	}
	var verdicts []demo.Verdict
	if *noRes {
		plain := cfg
		plain.NoResilience = true
		v, err := demo.Run(ctx, plain)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				say(e.stdout, "\nVerdict of the interrupted run (seed %d):\n\n", v.Seed)
				_ = demo.WriteTable(e.stdout, v)
			}
			say(e.stderr, "keel demo: %v\n", err)
			return exitFailure
		}
		verdicts = append(verdicts, v)
		cfg.Seed = v.Seed // the same chaos and requests
		say(e.stdout, "\nNow the same run with Keel's policies on.\n\n")
	}
	v, err := demo.Run(ctx, cfg)
	if err != nil && !errors.Is(err, context.Canceled) {
		say(e.stderr, "keel demo: %v\n", err)
		return exitFailure
	}
	verdicts = append(verdicts, v)
	say(e.stdout, "\nVerdict (seed %d, %v):\n\n", v.Seed, v.Duration)
	_ = demo.WriteTable(e.stdout, verdicts...)
	say(e.stdout, "\n")
	if err != nil {
		say(e.stderr, "keel demo: interrupted: the verdict covers the part that ran\n")
		return exitFailure
	}
	if problems := v.Problems(); len(problems) > 0 {
		for _, p := range problems {
			say(e.stdout, "FAIL: %s\n", p)
		}
		return exitFailure
	}
	say(e.stdout, "PASS: no charge applied twice, none lost, %s of charges and %s of recommendations succeeded despite the chaos.\n",
		percent(v.Charges.SuccessRate()), percent(v.Reads.SuccessRate()))
	return exitOK
}

// runService runs one example service in this process, for the demo,
// which starts its replicas as "keel demo __service <name> <flags>". It is
// not listed in the help.
func runService(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		say(e.stderr, "keel demo %s: payments or recommendations?\n", demo.ServiceCommand[1])
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	context.AfterFunc(ctx, stop) // a second signal kills the default way
	switch args[0] {
	case "payments":
		return service.ExitCode(service.Run(ctx, args[1:], e.stdout, e.stderr))
	case "recommendations":
		return recservice.ExitCode(recservice.Run(ctx, args[1:], e.stdout, e.stderr))
	default:
		say(e.stderr, "keel demo %s: unknown service %q\n", demo.ServiceCommand[1], args[0])
		return exitUsage
	}
}

func percent(r float64) string { return fmt.Sprintf("%.2f%%", 100*r) }

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
