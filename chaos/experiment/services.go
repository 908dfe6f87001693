package experiment

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// process is a running service process.
type process interface {
	// PID returns the process id.
	PID() int
	// Signal sends sig to the process and everything it started.
	Signal(sig syscall.Signal) error
	// Done is closed once the process has exited and been waited for.
	Done() <-chan struct{}
	// Exit describes how it ended, after Done.
	Exit() string
}

// starter starts the process of a service.
type starter func(svc *Service, out io.Writer) (process, error)

// execProcess is a process started by os/exec in its own process group.
type execProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
	exit string
}

func startExec(svc *Service, out io.Writer) (process, error) {
	cmd := exec.Command(svc.Command[0], svc.Command[1:]...) //nolint:gosec // the experiment's own command
	cmd.Dir = svc.Dir
	cmd.Stdout, cmd.Stderr = out, out
	if len(svc.Env) > 0 {
		cmd.Env = os.Environ()
		for _, k := range sortedKeys(svc.Env) {
			cmd.Env = append(cmd.Env, k+"="+svc.Env[k])
		}
	}
	// Its own process group, so that a kill reaches the processes it starts
	// (a shell script, "go run") too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &execProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		err := cmd.Wait()
		p.exit = cmd.ProcessState.String()
		if err != nil && cmd.ProcessState == nil {
			p.exit = err.Error()
		}
	}()
	return p, nil
}

func (p *execProcess) PID() int              { return p.cmd.Process.Pid }
func (p *execProcess) Done() <-chan struct{} { return p.done }
func (p *execProcess) Exit() string          { <-p.done; return p.exit }

func (p *execProcess) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	err := syscall.Kill(-p.cmd.Process.Pid, sig)
	if err != nil {
		err = syscall.Kill(p.cmd.Process.Pid, sig)
	}
	return err
}

// services runs the experiment's services. It is safe for concurrent use.
type services struct {
	start  starter
	client *http.Client
	output func(name string) io.Writer
	log    *slog.Logger

	mu    sync.Mutex
	defs  map[string]*Service
	order []string
	procs map[string]process
}

func newServices(defs []Service, start starter, client *http.Client, output func(string) io.Writer, log *slog.Logger) *services {
	s := &services{start: start, client: client, output: output, log: log, defs: map[string]*Service{}, procs: map[string]process{}}
	for i := range defs {
		s.defs[defs[i].Name] = &defs[i]
		s.order = append(s.order, defs[i].Name)
	}
	return s
}

// startAll starts every service in order, each once the one before is
// ready.
func (s *services) startAll(ctx context.Context) error {
	for _, name := range s.order {
		if err := s.startOne(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// startOne starts a service and waits until it is ready.
func (s *services) startOne(ctx context.Context, name string) error {
	svc := s.defs[name]
	out := io.Writer(io.Discard)
	if s.output != nil {
		if w := s.output(name); w != nil {
			out = w
		}
	}
	p, err := s.start(svc, out)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrService, name, err)
	}
	s.mu.Lock()
	s.procs[name] = p
	s.mu.Unlock()
	s.log.InfoContext(ctx, "experiment: service started", slog.String("service", name), slog.Int("pid", p.PID()))
	if svc.Ready == "" {
		return nil
	}
	if err := s.waitReady(ctx, svc, p); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrService, name, err)
	}
	return nil
}

// waitReady polls the service's ready URL until it answers 2xx.
func (s *services) waitReady(ctx context.Context, svc *Service, p process) error {
	timeout := time.Duration(or(svc.ReadyTimeout, DefaultReadyTimeout))
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		select {
		case <-p.Done():
			return fmt.Errorf("exited before it was ready (%s)", p.Exit())
		default:
		}
		if status, err := get(ctx, s.client, svc.Ready); err == nil && status/100 == 2 {
			return nil
		} else if err != nil {
			if ctx.Err() == nil {
				last = err.Error()
			}
		} else {
			last = fmt.Sprintf("status %d", status)
		}
		select {
		case <-p.Done():
			return fmt.Errorf("exited before it was ready (%s)", p.Exit())
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded { //nolint:errorlint // ctx.Err returns the sentinel itself
				return fmt.Errorf("not ready after %v: GET %s: %s", timeout, svc.Ready, last)
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// signal sends sig to a service's process group. With SIGKILL it waits for
// the process to be gone.
func (s *services) signal(ctx context.Context, name string, sig syscall.Signal) (pid int, err error) {
	s.mu.Lock()
	p := s.procs[name]
	s.mu.Unlock()
	if p == nil {
		return 0, fmt.Errorf("service %s is not running", name)
	}
	select {
	case <-p.Done():
		return p.PID(), fmt.Errorf("service %s is not running (%s)", name, p.Exit())
	default:
	}
	if err := p.Signal(sig); err != nil {
		return p.PID(), err
	}
	if sig != syscall.SIGKILL {
		return p.PID(), nil
	}
	t := time.NewTimer(time.Duration(or(s.defs[name].StopTimeout, DefaultStopTimeout)))
	defer t.Stop()
	select {
	case <-p.Done():
		return p.PID(), nil
	case <-t.C:
		return p.PID(), fmt.Errorf("service %s (pid %d) still runs after SIGKILL", name, p.PID())
	case <-ctx.Done():
		return p.PID(), ctx.Err()
	}
}

// restart stops a service if it runs and starts it again.
func (s *services) restart(ctx context.Context, name string) error {
	s.stopOne(name)
	return s.startOne(ctx, name)
}

// stopOne stops a service: SIGTERM (and SIGCONT, in case it was stopped),
// then SIGKILL after its stop timeout. It returns once the process is gone.
func (s *services) stopOne(name string) {
	s.mu.Lock()
	p := s.procs[name]
	delete(s.procs, name)
	s.mu.Unlock()
	if p == nil {
		return
	}
	select {
	case <-p.Done():
		return
	default:
	}
	_ = p.Signal(syscall.SIGTERM)
	_ = p.Signal(syscall.SIGCONT)
	t := time.NewTimer(time.Duration(or(s.defs[name].StopTimeout, DefaultStopTimeout)))
	defer t.Stop()
	select {
	case <-p.Done():
	case <-t.C:
		s.log.Warn("experiment: service did not stop after SIGTERM; killing it", slog.String("service", name))
		_ = p.Signal(syscall.SIGKILL)
		t.Reset(time.Duration(DefaultStopTimeout))
		select {
		case <-p.Done():
		case <-t.C:
			s.log.Error("experiment: service still runs after SIGKILL; leaving it", slog.String("service", name), slog.Int("pid", p.PID()))
			return
		}
	}
	s.log.Info("experiment: service stopped", slog.String("service", name), slog.String("exit", p.Exit()))
}

// stopAll stops every service, in reverse order.
func (s *services) stopAll() {
	for i := len(s.order) - 1; i >= 0; i-- {
		s.stopOne(s.order[i])
	}
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// get sends a GET and returns the status; the body is drained.
func get(ctx context.Context, c *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}
