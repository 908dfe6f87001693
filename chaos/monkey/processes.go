package monkey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Default values of the zero [ProcessesConfig] fields.
const (
	DefaultRestartDelay = time.Second
	DefaultStopTimeout  = 5 * time.Second
)

// ErrClosed is returned by [Processes.Restart] after Close.
var ErrClosed = errors.New("monkey: processes closed")

// ErrUnknownTarget is returned by [Processes.Restart] for a name that is not
// one of its targets.
var ErrUnknownTarget = errors.New("monkey: unknown target")

// maxExits bounds the exit history that Processes keeps.
const maxExits = 1024

// ProcessesConfig configures [Processes]. The zero value of each field is its
// documented default, except Command, which is required.
type ProcessesConfig struct {
	// Name is the prefix of the target names: Name-0 … Name-(Replicas-1).
	// Default "replica".
	Name string
	// Replicas is the number of copies to run. Default 1.
	Replicas int
	// Command returns the command for replica i, unstarted. It is called
	// before every start, so it must return a new exec.Cmd each time; set
	// Stdout, Stderr, Env and Dir on it as needed. Required.
	Command func(replica int) *exec.Cmd
	// RestartDelay is how long a replica stays dead after its process exits
	// before it is started again. Default DefaultRestartDelay (1s).
	// Negative: never restart on its own (Restart still does).
	RestartDelay time.Duration
	// StopTimeout is how long Close and Restart wait after SIGTERM before
	// they send SIGKILL. Default DefaultStopTimeout (5s).
	StopTimeout time.Duration
	// PIDDir, if set, is a directory where each running replica has a pid
	// file <PIDDir>/<name>.pid, written when it starts and removed when it
	// exits, for [PIDFiles] and other tools. Default: no pid files.
	PIDDir string
	// Logger receives a record for every start and exit. Nil: slog.Default().
	Logger *slog.Logger
}

// Validate reports the first invalid field.
func (c ProcessesConfig) Validate() error {
	switch {
	case c.Command == nil:
		return fmt.Errorf("%w: ProcessesConfig.Command is nil", ErrConfig)
	case c.Replicas < 0:
		return fmt.Errorf("%w: ProcessesConfig.Replicas %d is negative", ErrConfig, c.Replicas)
	case c.StopTimeout < 0:
		return fmt.Errorf("%w: ProcessesConfig.StopTimeout %v is negative", ErrConfig, c.StopTimeout)
	}
	return nil
}

// Exit records the end of one replica process.
type Exit struct {
	// Target and PID name the replica and its process.
	Target string
	PID    int
	// Time is when the exit was observed.
	Time time.Time
	// State is the process's exit state (its wait status is
	// State.Sys().(syscall.WaitStatus)).
	State *os.ProcessState
}

// Processes is a [Supervisor] and [Restarter] that runs Replicas copies of a
// command and starts a replica again RestartDelay after its process exits.
// Each replica is owned by a goroutine that Close stops and joins. Processes
// is safe for concurrent use.
type Processes struct {
	cfg      ProcessesConfig
	log      *slog.Logger
	replicas []*replica
	stop     chan struct{} // closed by Close: stop every replica
	hurry    chan struct{} // closed by Close when its ctx ends: SIGKILL at once
	wg       sync.WaitGroup
	once     sync.Once

	mu    sync.Mutex
	exits []Exit
}

type replica struct {
	index   int
	name    string
	restart chan chan error // Restart requests; the reply comes after the new start

	// guarded by Processes.mu
	pid   int
	alive bool
}

// StartProcesses validates cfg and starts every replica. If a replica fails
// to start, it stops the ones already started and returns the error.
func StartProcesses(cfg ProcessesConfig) (*Processes, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = "replica"
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.RestartDelay == 0 {
		cfg.RestartDelay = DefaultRestartDelay
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = DefaultStopTimeout
	}
	p := &Processes{
		cfg:   cfg,
		log:   cfg.Logger,
		stop:  make(chan struct{}),
		hurry: make(chan struct{}),
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if cfg.PIDDir != "" {
		if err := os.MkdirAll(cfg.PIDDir, 0o750); err != nil {
			return nil, fmt.Errorf("monkey: pid directory: %w", err)
		}
	}
	for i := range cfg.Replicas {
		r := &replica{index: i, name: cfg.Name + "-" + strconv.Itoa(i), restart: make(chan chan error)}
		p.replicas = append(p.replicas, r)
		cmd, err := p.start(r)
		if err != nil {
			_ = p.Close(context.Background())
			return nil, err
		}
		p.wg.Add(1)
		go p.supervise(r, cmd)
	}
	return p, nil
}

// Targets returns the replicas in order. It implements [Supervisor].
func (p *Processes) Targets() []Target {
	p.mu.Lock()
	defer p.mu.Unlock()
	ts := make([]Target, len(p.replicas))
	for i, r := range p.replicas {
		ts[i] = Target{Name: r.name, PID: r.pid, Alive: r.alive}
	}
	return ts
}

// Exits returns the exits observed so far, oldest first (at most the last
// 1024).
func (p *Processes) Exits() []Exit {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Exit(nil), p.exits...)
}

// Restart stops the named replica's process (SIGTERM, then SIGKILL after
// StopTimeout), or cancels its restart delay if it is dead, and starts it
// again at once. It returns when the new process has started. It
// implements [Restarter].
func (p *Processes) Restart(ctx context.Context, name string) error {
	var r *replica
	for _, x := range p.replicas {
		if x.name == name {
			r = x
		}
	}
	if r == nil {
		return fmt.Errorf("%w %q", ErrUnknownTarget, name)
	}
	reply := make(chan error, 1)
	select {
	case r.restart <- reply:
	case <-p.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops every replica: SIGTERM, then SIGKILL after StopTimeout or as
// soon as ctx ends, and waits until every process has exited and every
// goroutine has returned. It returns ctx's error if ctx ended first. Calls
// after the first return nil at once.
func (p *Processes) Close(ctx context.Context) error {
	first := false
	p.once.Do(func() { first = true; close(p.stop) })
	if !first {
		return nil
	}
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		close(p.hurry)
		<-done
		return ctx.Err()
	}
}

// start starts replica r's process and marks it alive.
func (p *Processes) start(r *replica) (*exec.Cmd, error) {
	cmd := p.cfg.Command(r.index)
	if cmd == nil {
		return nil, fmt.Errorf("monkey: %s: Command returned nil", r.name)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("monkey: start %s: %w", r.name, err)
	}
	pid := cmd.Process.Pid
	p.mu.Lock()
	r.pid, r.alive = pid, true
	p.mu.Unlock()
	if p.cfg.PIDDir != "" {
		if err := writePIDFile(p.pidFile(r), pid); err != nil {
			p.log.Warn("monkey: cannot write pid file", slog.String("target", r.name), slog.String("err", err.Error()))
		}
	}
	p.log.Info("replica started", slog.String("target", r.name), slog.Int("pid", pid))
	return cmd, nil
}

func (p *Processes) pidFile(r *replica) string {
	return filepath.Join(p.cfg.PIDDir, r.name+".pid")
}

// writePIDFile writes pid to path atomically, so that readers never see a
// partial file.
func writePIDFile(path string, pid int) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// supervise owns replica r: it waits for its process, records the exit and
// starts it again, until Close.
func (p *Processes) supervise(r *replica, cmd *exec.Cmd) {
	defer p.wg.Done()
	var reply chan error // a Restart waiting for the next start
	for {
		if cmd != nil {
			if reply != nil {
				reply <- nil
				reply = nil
			}
			stopping := false
			exited := make(chan struct{})
			go func() {
				_ = cmd.Wait() // the exit status is in cmd.ProcessState
				close(exited)
			}()
			select {
			case <-exited:
			case reply = <-r.restart:
				p.terminate(cmd, exited)
			case <-p.stop:
				p.terminate(cmd, exited)
				stopping = true
			}
			p.exited(r, cmd)
			if stopping {
				return
			}
		}
		if reply == nil {
			var ok bool
			if reply, ok = p.waitRestart(r); !ok {
				return
			}
		}
		var err error
		if cmd, err = p.start(r); err != nil {
			p.log.Warn("replica failed to start", slog.String("target", r.name), slog.String("err", err.Error()))
			if reply != nil {
				reply <- err
				reply = nil
			}
		}
	}
}

// waitRestart waits for the restart delay or a Restart request. It returns
// the request's reply channel, if any, and false when Close was called.
func (p *Processes) waitRestart(r *replica) (chan error, bool) {
	var delay <-chan time.Time
	if p.cfg.RestartDelay > 0 {
		t := time.NewTimer(p.cfg.RestartDelay)
		defer t.Stop()
		delay = t.C
	}
	select {
	case <-delay:
		return nil, true
	case reply := <-r.restart:
		return reply, true
	case <-p.stop:
		return nil, false
	}
}

// terminate sends SIGTERM to cmd's process, then SIGKILL after StopTimeout
// or as soon as Close's context ends, and waits until it has exited.
func (p *Processes) terminate(cmd *exec.Cmd, exited <-chan struct{}) {
	if err := cmd.Process.Signal(syscall.SIGTERM); err == nil {
		t := time.NewTimer(p.cfg.StopTimeout)
		select {
		case <-exited:
		case <-t.C:
		case <-p.hurry:
		}
		t.Stop()
	}
	_ = cmd.Process.Kill() // fails harmlessly if the process has exited
	<-exited
}

// exited marks r dead and records cmd's exit.
func (p *Processes) exited(r *replica, cmd *exec.Cmd) {
	pid := cmd.Process.Pid
	if p.cfg.PIDDir != "" {
		_ = os.Remove(p.pidFile(r))
	}
	e := Exit{Target: r.name, PID: pid, Time: time.Now(), State: cmd.ProcessState}
	p.mu.Lock()
	r.alive = false
	p.exits = append(p.exits, e)
	if len(p.exits) > maxExits {
		p.exits = append(p.exits[:0], p.exits[len(p.exits)-maxExits:]...)
	}
	p.mu.Unlock()
	p.log.Info("replica exited", slog.String("target", r.name), slog.Int("pid", pid),
		slog.String("status", cmd.ProcessState.String()))
}

var _ Restarter = (*Processes)(nil)
