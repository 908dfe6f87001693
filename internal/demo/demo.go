package demo

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/keelhq/keel/chaos/monkey"
	"github.com/keelhq/keel/chaos/tcpproxy"
	"github.com/keelhq/keel/examples/payments/ledger"
)

// Defaults of the zero Config fields.
const (
	DefaultDuration   = 60 * time.Second
	DefaultChargeRate = 40
	DefaultReadRate   = 60
)

// Topology of a run.
const (
	paymentsReplicas        = 3
	recommendationsReplicas = 2
	// minAlive is the number of payments replicas a kill must leave.
	minAlive = 2
)

// ServiceCommand is the argument that, after Config.Command, makes the keel
// binary run one example service in-process: Command..., ServiceCommand,
// "payments" or "recommendations", then the service's flags.
var ServiceCommand = []string{"demo", "__service"}

// Config configures a run. The zero value of each field is its documented
// default.
type Config struct {
	// Duration is how long the load and the chaos last. Default
	// DefaultDuration (60s); at least 10s.
	Duration time.Duration
	// Seed seeds every random choice: the chaos schedule, the victims, the
	// requests and the gateway's fault injector. Zero picks one at random;
	// Verdict.Seed reports it, so that a run can be repeated.
	Seed uint64
	// NoResilience runs the same topology and chaos with Keel's policies
	// off (see the package documentation).
	NoResilience bool
	// ChargeRate and ReadRate are the charges and the recommendation reads
	// sent per second. Defaults DefaultChargeRate and DefaultReadRate.
	ChargeRate, ReadRate int
	// Command is the keel program and its leading arguments: the demo runs
	// Command followed by "gateway -c FILE" and by ServiceCommand. Default:
	// the running executable (os.Executable).
	Command []string
	// Dir is where the run keeps its files (ledger, stores, logs,
	// keel.yaml). Default: a new temporary directory, removed at the end
	// unless Keep is set, Run fails, or a run with Keel's policies fails its
	// verdict.
	Dir string
	// Keep keeps the files of a run in a temporary directory.
	Keep bool
	// Out receives the start banner and the live status line. Nil discards
	// them.
	Out io.Writer
	// Live rewrites the status line in place (a terminal); otherwise a new
	// line is written every second.
	Live bool
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Duration != 0 && c.Duration < 10*time.Second:
		return fmt.Errorf("demo: Duration %v is shorter than 10s", c.Duration)
	case c.ChargeRate < 0 || c.ChargeRate > 1000:
		return fmt.Errorf("demo: ChargeRate %d is not in [0, 1000]", c.ChargeRate)
	case c.ReadRate < 0 || c.ReadRate > 1000:
		return fmt.Errorf("demo: ReadRate %d is not in [0, 1000]", c.ReadRate)
	}
	return nil
}

// Run starts the topology, runs the load and the chaos for cfg.Duration,
// stops everything, audits the ledger and returns the verdict. If ctx ends
// early (Ctrl-C), the run stops at once, everything started is stopped, and
// the verdict of the partial run is returned with ctx's error. Every child
// process has exited when Run returns.
func Run(ctx context.Context, cfg Config) (Verdict, error) {
	if err := cfg.Validate(); err != nil {
		return Verdict{}, err
	}
	cfg.Duration = cmpOr(cfg.Duration, DefaultDuration)
	cfg.ChargeRate = cmpOr(cfg.ChargeRate, DefaultChargeRate)
	cfg.ReadRate = cmpOr(cfg.ReadRate, DefaultReadRate)
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64()
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if len(cfg.Command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return Verdict{}, fmt.Errorf("demo: %w", err)
		}
		cfg.Command = []string{exe}
	}
	removeDir := false
	if cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "keel-demo-")
		if err != nil {
			return Verdict{}, fmt.Errorf("demo: %w", err)
		}
		cfg.Dir, removeDir = dir, !cfg.Keep
	}
	r := &runner{cfg: cfg}
	v, err := r.run(ctx)
	// A run without Keel is expected to fail its audit; a run with Keel that
	// fails, or an error, keeps the files for a look.
	if removeDir && err == nil && (v.OK() || !v.Resilient) {
		_ = os.RemoveAll(cfg.Dir)
	} else if removeDir {
		say(cfg.Out, "The run's files (logs, ledger, keel.yaml) are kept in %s\n", cfg.Dir)
	}
	return v, err
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// runner is one run.
type runner struct {
	cfg Config

	logFile *os.File
	logger  *slog.Logger
	outputs []*os.File // the children's log files

	proxy           *tcpproxy.Server
	payments        *monkey.Processes
	recommendations *monkey.Processes
	gateway         *monkey.Processes
	admin           *admin

	paymentAddrs, recAddrs []string
	gatewayAddr, adminAddr string

	kills, restarts, faults atomic.Int64
	actions                 actionLog // what the status line reports

	eventsMu        sync.Mutex
	eventSeq        uint64
	breakerOpenings int
	ejections       int
}

func (r *runner) run(ctx context.Context) (v Verdict, err error) {
	v = Verdict{Resilient: !r.cfg.NoResilience, Seed: r.cfg.Seed, Duration: r.cfg.Duration}
	if err := r.openLog(); err != nil {
		return v, err
	}
	// Everything started is stopped, whatever happens; stopping does not
	// depend on ctx, so that a Ctrl-C still cleans up.
	defer func() { err = errors.Join(err, r.stop()) }()

	if err := r.start(ctx); err != nil {
		return v, err
	}
	say(r.cfg.Out, "Keel demo (%s), seed %d, %v: 3 payments replicas, 2 recommendations replicas, the gateway.\n", v.Mode(), r.cfg.Seed, r.cfg.Duration)
	say(r.cfg.Out, "  gateway    http://%s  (POST /charges, GET /recommendations?user=u1)\n", r.gatewayAddr)
	say(r.cfg.Out, "  dashboard  http://%s/\n", r.adminAddr)
	say(r.cfg.Out, "  files      %s\n", r.cfg.Dir)

	l, err := newLoad(loadConfig{gateway: r.gatewayAddr, chargeRate: r.cfg.ChargeRate, readRate: r.cfg.ReadRate, seed: r.cfg.Seed})
	if err != nil {
		return v, err
	}
	runCtx, cancel := context.WithTimeout(ctx, r.cfg.Duration)
	defer cancel()
	loadStart := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() { l.run(runCtx) })
	wg.Go(func() { r.chaos(runCtx) })
	wg.Go(func() { r.status(runCtx, l) })
	wg.Wait()
	if ctx.Err() != nil { // interrupted: the verdict covers what ran
		v.Duration = time.Since(loadStart).Round(time.Second)
	}
	if r.cfg.Live {
		say(r.cfg.Out, "\n")
	}

	// Gateway-side counts, read before the gateway stops.
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer ccancel()
	r.pollEvents(cctx)
	r.saveEvents(cctx)
	if c, err := r.admin.counters(cctx, "keel_retries_total", "keel_hedge_sent_total"); err == nil {
		v.GatewayRetries, v.Hedges = int64(c["keel_retries_total"]), int64(c["keel_hedge_sent_total"])
	} else {
		r.logger.WarnContext(cctx, "reading the gateway's metrics failed", "err", err)
	}
	r.eventsMu.Lock()
	v.BreakerOpenings, v.Ejections = r.breakerOpenings, r.ejections
	r.eventsMu.Unlock()
	v.Kills, v.Restarts, v.Faults = int(r.kills.Load()), int(r.restarts.Load()), int(r.faults.Load())
	v.Charges, v.Reads = l.charges.result(), l.reads.result()
	v.ClientRetries = l.clientRetries.Load()

	// The ledger can be read once no replica holds it.
	if err := r.stopServices(); err != nil {
		return v, err
	}
	entries, err := ledger.ReadFile(filepath.Join(r.cfg.Dir, ledger.FileName))
	if err != nil {
		return v, fmt.Errorf("demo: reading the ledger: %w", err)
	}
	l.charges.mu.Lock()
	acked := l.charges.acked
	l.charges.mu.Unlock()
	audit := ledger.Audit(entries, acked)
	v.LedgerEntries, v.Duplicates, v.Lost, v.Unacknowledged = audit.Entries, len(audit.Duplicates), len(audit.Lost), audit.Unacknowledged
	for i, d := range audit.Duplicates {
		if i == 5 {
			break
		}
		r.logger.WarnContext(ctx, "charge applied more than once", "key", d.Key, "applications", len(d.Entries))
	}
	return v, ctx.Err()
}

func (r *runner) openLog() error {
	if err := os.MkdirAll(filepath.Join(r.cfg.Dir, "logs"), 0o750); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(r.cfg.Dir, "logs", "demo.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	r.logFile = f
	r.logger = slog.New(slog.NewTextHandler(f, nil))
	return nil
}

// output opens the log file of a child.
func (r *runner) output(name string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(r.cfg.Dir, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600) //nolint:gosec // our own run directory
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	r.outputs = append(r.outputs, f)
	return f, nil
}

// command returns the keel command with args.
func (r *runner) command(out *os.File, args ...string) *exec.Cmd {
	all := append(append([]string(nil), r.cfg.Command[1:]...), args...)
	cmd := exec.Command(r.cfg.Command[0], all...) //nolint:gosec // the keel binary itself
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	return cmd
}

func (r *runner) serviceCommand(out *os.File, service string, args ...string) *exec.Cmd {
	all := append(append(append([]string(nil), ServiceCommand...), service), args...)
	return r.command(out, all...)
}

// start starts the replicas, the proxy and the gateway, and waits until
// the gateway is ready.
func (r *runner) start(ctx context.Context) error {
	ports, err := freePorts(paymentsReplicas + recommendationsReplicas + 2)
	if err != nil {
		return err
	}
	for i := range paymentsReplicas {
		r.paymentAddrs = append(r.paymentAddrs, ports[i])
	}
	r.recAddrs = ports[paymentsReplicas : paymentsReplicas+recommendationsReplicas]
	r.gatewayAddr, r.adminAddr = ports[len(ports)-2], ports[len(ports)-1]

	r.proxy, err = tcpproxy.New(tcpproxy.Config{Seed: r.cfg.Seed, Logger: r.logger})
	if err != nil {
		return err
	}
	px, err := r.proxy.CreateProxy(tcpproxy.Proxy{Name: "payments-0", Listen: "127.0.0.1:0", Upstream: r.paymentAddrs[0], Enabled: true})
	if err != nil {
		return fmt.Errorf("demo: proxy: %w", err)
	}
	gatewayPayments := append([]string{px.Listen}, r.paymentAddrs[1:]...)

	if err := r.startPayments(); err != nil {
		return err
	}
	if err := r.startRecommendations(); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, a := range append(append([]string(nil), r.paymentAddrs...), r.recAddrs...) {
		if err := waitHealthy(wctx, "http://"+a+"/healthz"); err != nil {
			return fmt.Errorf("demo: replica %s did not start (see %s): %w", a, filepath.Join(r.cfg.Dir, "logs"), err)
		}
	}

	token := randomHex(16)
	yaml := gatewayConfig(gatewaySpec{
		listen: r.gatewayAddr, admin: r.adminAddr, token: token, dataDir: filepath.Join(r.cfg.Dir, "gateway"),
		payments: gatewayPayments, recommendations: r.recAddrs, seed: r.cfg.Seed, noResilience: r.cfg.NoResilience,
	})
	cfgPath := filepath.Join(r.cfg.Dir, "keel.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	out, err := r.output("gateway")
	if err != nil {
		return err
	}
	r.gateway, err = monkey.StartProcesses(monkey.ProcessesConfig{
		Name: "gateway", Replicas: 1, RestartDelay: time.Second, StopTimeout: 10 * time.Second, Logger: r.logger,
		Command: func(int) *exec.Cmd { return r.command(out, "gateway", "-c", cfgPath, "-watch=false") },
	})
	if err != nil {
		return fmt.Errorf("demo: gateway: %w", err)
	}
	r.admin = newAdmin(r.adminAddr, token)
	if err := waitHealthy(wctx, "http://"+r.adminAddr+"/readyz"); err != nil {
		return fmt.Errorf("demo: the gateway did not start (see %s): %w", filepath.Join(r.cfg.Dir, "logs", "gateway.log"), err)
	}
	if err := waitHealthy(wctx, "http://"+r.gatewayAddr+"/recommendations?user=warmup"); err != nil {
		return fmt.Errorf("demo: the gateway does not reach recommendations: %w", err)
	}
	return nil
}

func (r *runner) startPayments() error {
	outs := make([]*os.File, paymentsReplicas)
	for i := range outs {
		var err error
		if outs[i], err = r.output(fmt.Sprintf("payments-%d", i)); err != nil {
			return err
		}
	}
	ledgerPath := filepath.Join(r.cfg.Dir, ledger.FileName)
	var err error
	r.payments, err = monkey.StartProcesses(monkey.ProcessesConfig{
		Name: "payments", Replicas: paymentsReplicas,
		RestartDelay: -1, // the chaos restarts killed replicas itself
		StopTimeout:  5 * time.Second, Logger: r.logger,
		Command: func(i int) *exec.Cmd {
			args := []string{
				"-addr", r.paymentAddrs[i], "-name", fmt.Sprintf("payments-%d", i),
				"-data", filepath.Join(r.cfg.Dir, fmt.Sprintf("payments-%d", i)), "-ledger", ledgerPath,
				"-work", "10ms", "-drain-timeout", "3s",
				"-seed", strconv.FormatUint(r.cfg.Seed+uint64(i), 10), //nolint:gosec // i is a replica index, 0 to 2
				"-no-idempotency", // HTTP-level idempotency is the gateway's
			}
			if !r.cfg.NoResilience {
				args = append(args, "-apply-once") // business-level idempotency in the ledger
			}
			return r.serviceCommand(outs[i], "payments", args...)
		},
	})
	if err != nil {
		return fmt.Errorf("demo: payments: %w", err)
	}
	return nil
}

func (r *runner) startRecommendations() error {
	outs := make([]*os.File, recommendationsReplicas)
	for i := range outs {
		var err error
		if outs[i], err = r.output(fmt.Sprintf("recommendations-%d", i)); err != nil {
			return err
		}
	}
	var err error
	r.recommendations, err = monkey.StartProcesses(monkey.ProcessesConfig{
		Name: "recommendations", Replicas: recommendationsReplicas, RestartDelay: time.Second, StopTimeout: 5 * time.Second, Logger: r.logger,
		Command: func(i int) *exec.Cmd {
			return r.serviceCommand(outs[i], "recommendations",
				"-addr", r.recAddrs[i], "-name", fmt.Sprintf("recommendations-%d", i), "-delay", "5ms", "-version", "v1", "-drain-timeout", "3s")
		},
	})
	if err != nil {
		return fmt.Errorf("demo: recommendations: %w", err)
	}
	return nil
}

// stopServices stops the gateway and the replicas, gateway first so that no
// request is cut by the replicas' shutdown.
func (r *runner) stopServices() error {
	var errs []error
	for _, p := range []*monkey.Processes{r.gateway, r.payments, r.recommendations} {
		if p == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		errs = append(errs, p.Close(ctx))
		cancel()
	}
	return errors.Join(errs...)
}

// stop stops whatever is still running and closes the files.
func (r *runner) stop() error {
	errs := []error{r.stopServices()}
	if r.proxy != nil {
		errs = append(errs, r.proxy.Close())
	}
	if r.admin != nil {
		r.admin.close()
	}
	for _, f := range r.outputs {
		errs = append(errs, f.Close())
	}
	if r.logFile != nil {
		errs = append(errs, r.logFile.Close())
	}
	return errors.Join(errs...)
}

// chaos runs the schedule until ctx ends.
func (r *runner) chaos(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	start := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	<-t.C
	for _, a := range schedule(r.cfg.Duration, r.cfg.Seed) {
		t.Reset(time.Until(start.Add(a.At)))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.act(ctx, a, &wg)
	}
}

// act takes one chaos action; the end of a window and a restart run in
// goroutines joined by wg.
func (r *runner) act(ctx context.Context, a action, wg *sync.WaitGroup) {
	switch a.Kind {
	case actKill:
		var alive []monkey.Target
		for _, t := range r.payments.Targets() {
			if t.Alive {
				alive = append(alive, t)
			}
		}
		if len(alive) <= minAlive {
			r.note(ctx, "kill_skipped", fmt.Sprintf("only %d payments replicas alive", len(alive)))
			return
		}
		victim := alive[a.Pick%len(alive)]
		if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
			r.logger.WarnContext(ctx, "kill failed", "target", victim.Name, "pid", victim.PID, "err", err)
			return
		}
		r.kills.Add(1)
		r.note(ctx, "replica_killed", fmt.Sprintf("%s (pid %d) killed with SIGKILL; back in %v", victim.Name, victim.PID, a.Restart.Round(100*time.Millisecond)))
		wg.Go(func() {
			if !sleep(ctx, a.Restart) {
				return
			}
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := r.payments.Restart(rctx, victim.Name); err != nil {
				r.logger.WarnContext(ctx, "restart failed", "target", victim.Name, "err", err)
				return
			}
			r.restarts.Add(1)
			r.note(ctx, "replica_restarted", victim.Name+" restarted")
		})
	case actLatency, actErrors:
		f := map[string]any{
			"id": "recommendations-latency", "kind": "latency", "latency": "400ms", "jitter": "100ms",
			"percent": 50, "route": "recommendations", "duration": a.Length.String(),
		}
		if a.Kind == actErrors {
			f = map[string]any{
				"id": "recommendations-errors", "kind": "error", "status": 503,
				"percent": 30, "route": "recommendations", "duration": a.Length.String(),
			}
		}
		if err := r.admin.fault(ctx, f); err != nil {
			r.logger.WarnContext(ctx, "adding a fault failed", "err", err)
			return
		}
		r.faults.Add(1)
		r.actions.add(fmt.Sprintf("fault %s for %v", f["id"], a.Length))
		// The fault expires by itself; removing it also marks the end of
		// the window on the timeline.
		wg.Go(func() {
			sleep(ctx, a.Length)
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			if err := r.admin.do(dctx, http.MethodDelete, "/faults/"+f["id"].(string), nil, nil); err != nil {
				r.logger.InfoContext(dctx, "removing a fault", "err", err) // it may have expired first
			}
			r.actions.add(fmt.Sprintf("fault %s ended", f["id"]))
		})
	case actBadReplica:
		// A fault on one host, injected by the gateway after it picked the
		// host: the host's breaker sees every failure (see the breaker and
		// outlier settings in gatewayConfig).
		i := a.Pick % len(r.recAddrs)
		id := fmt.Sprintf("bad-recommendations-%d", i)
		f := map[string]any{"id": id, "kind": "error", "status": http.StatusInternalServerError, "host": r.recAddrs[i], "duration": a.Length.String()}
		if err := r.admin.fault(ctx, f); err != nil {
			r.logger.WarnContext(ctx, "adding a fault failed", "err", err)
			return
		}
		r.faults.Add(1)
		r.actions.add(fmt.Sprintf("recommendations-%d answers 500 for %v", i, a.Length))
		r.logger.InfoContext(ctx, "chaos", "kind", "bad_replica", "target", r.recAddrs[i], "length", a.Length)
		wg.Go(func() {
			sleep(ctx, a.Length)
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			if err := r.admin.do(dctx, http.MethodDelete, "/faults/"+id, nil, nil); err != nil {
				r.logger.InfoContext(dctx, "removing a fault", "err", err) // it may have expired first
			}
			r.actions.add(fmt.Sprintf("recommendations-%d healthy again", i))
		})
	case actNetwork:
		toxic := tcpproxy.Toxic{Name: "blackhole", Type: "timeout", Stream: "downstream", Toxicity: 1, Attributes: tcpproxy.Attributes{"timeout": 0}}
		if _, err := r.proxy.AddToxic("payments-0", toxic); err != nil {
			r.logger.WarnContext(ctx, "adding the network fault failed", "err", err)
			return
		}
		r.faults.Add(1)
		r.note(ctx, "network_fault", fmt.Sprintf("payments-0: responses black-holed for %v (requests still arrive)", a.Length))
		wg.Go(func() {
			sleep(ctx, a.Length) // the fault ends early with the run
			if err := r.proxy.RemoveToxic("payments-0", toxic.Name); err != nil {
				r.logger.WarnContext(ctx, "removing the network fault failed", "err", err)
				return
			}
			r.note(context.WithoutCancel(ctx), "network_restored", "payments-0: network restored")
		})
	}
}

// note logs a chaos action, shows it on the status line and posts it to the
// gateway's timeline.
func (r *runner) note(ctx context.Context, kind, detail string) {
	r.logger.InfoContext(ctx, "chaos", "kind", kind, "detail", detail)
	r.actions.add(detail)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := r.admin.event(ctx, kind, detail); err != nil {
		r.logger.WarnContext(ctx, "posting an event failed", "err", err)
	}
}

// actionLog collects the chaos actions for the status line: every action
// noted since the last line is shown once (two in the same second both
// appear), and the latest stays on the following lines.
type actionLog struct {
	mu      sync.Mutex
	pending []string
	last    string
}

func (l *actionLog) add(s string) {
	l.mu.Lock()
	l.pending = append(l.pending, s)
	l.mu.Unlock()
}

// take returns the actions noted since the last call, or the last ones
// shown when there are none.
func (l *actionLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) > 0 {
		l.last = strings.Join(l.pending, "; ")
		l.pending = l.pending[:0]
	}
	return l.last
}

// status writes the live status line every second until ctx ends.
func (r *runner) status(ctx context.Context, l *load) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	start := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if ctx.Err() != nil {
			return
		}
		r.pollEvents(ctx)
		cn, cok, cp99 := l.charges.tick()
		rn, rok, rp99 := l.reads.tick()
		open := "?"
		sctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		if st, err := r.admin.status(sctx); err == nil {
			open = strconv.Itoa(st.openBreakers())
		}
		cancel()
		if ctx.Err() != nil {
			return // the run ended during this tick
		}
		last := r.actions.take()
		line := fmt.Sprintf("%3.0fs  requests %d  charges ok %s p99 %s  recs ok %s p99 %s  payments up %d/%d  recs up %d/%d  breakers open %s  %s",
			time.Since(start).Seconds(), cn+rn, pct(rate(cok, cn)), msOrDash(cp99), pct(rate(rok, rn)), msOrDash(rp99),
			alive(r.payments), paymentsReplicas, alive(r.recommendations), recommendationsReplicas, open, last)
		if r.cfg.Live {
			say(r.cfg.Out, "\r\033[K%s", line)
		} else {
			say(r.cfg.Out, "%s\n", line)
		}
	}
}

// pollEvents counts the gateway's breaker openings and ejections.
func (r *runner) pollEvents(ctx context.Context) {
	r.eventsMu.Lock()
	defer r.eventsMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	evs, err := r.admin.events(ctx, r.eventSeq)
	if err != nil {
		return
	}
	for _, e := range evs {
		r.eventSeq = max(r.eventSeq, e.Seq)
		switch e.Kind {
		case "breaker_open":
			r.breakerOpenings++
		case "host_ejected":
			r.ejections++
		}
	}
}

// saveEvents writes the gateway's timeline to logs/gateway-events.json.
func (r *runner) saveEvents(ctx context.Context) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.admin.base+"/events", nil)
	if err != nil {
		return
	}
	resp, err := r.admin.client.Do(req)
	if err != nil {
		return
	}
	defer func() { _ = resp.Body.Close() }()
	f, err := os.Create(filepath.Join(r.cfg.Dir, "logs", "gateway-events.json"))
	if err != nil {
		return
	}
	_, _ = io.Copy(f, resp.Body)
	_ = f.Close()
}

func msOrDash(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return ms(d)
}

func rate(ok, n int) float64 {
	if n == 0 {
		return 1
	}
	return float64(ok) / float64(n)
}

func alive(p *monkey.Processes) int {
	n := 0
	for _, t := range p.Targets() {
		if t.Alive {
			n++
		}
	}
	return n
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// freePorts returns n loopback addresses whose ports were free a moment ago.
func freePorts(n int) ([]string, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	addrs := make([]string, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

// waitHealthy polls url until it answers 200 or ctx ends.
func waitHealthy(ctx context.Context, url string) error {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		last = err
		if !sleep(ctx, 50*time.Millisecond) {
			return errors.Join(ctx.Err(), last)
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}

func say(w io.Writer, format string, args ...any) { _, _ = fmt.Fprintf(w, format, args...) }
