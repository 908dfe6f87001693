package gateway

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/keelhq/keel/flags"
	"github.com/keelhq/keel/gateway/config"
)

// Reload replaces the gateway's configuration with cfg without dropping a
// request: the new routes serve every request that starts after Reload
// returns, while requests already running finish on the old ones. Upstream
// pools whose configuration is unchanged are kept, with their hosts'
// health, ejections and breaker states; stores and Redis clients named by
// both configurations stay open. Flags take the new configuration's values,
// except those set through the admin API, which keep their override.
//
// If cfg cannot be built (a store cannot be opened, say) Reload returns the
// error and the old configuration keeps serving. Changes to listen, admin
// and telemetry take effect only on restart; Reload logs a warning for
// them.
func (g *Gateway) Reload(cfg *config.Config) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.current.Load()
	rt, err := g.build(cfg, old)
	if err != nil {
		g.reloadFailed(err)
		return err
	}
	fl := flagList(cfg.Flags)
	for i, f := range fl {
		if o, ok := g.overrides[f.Name]; ok {
			fl[i] = o
		}
	}
	if err := g.flags.Replace(fl...); err != nil {
		g.discard(rt, old)
		g.reloadFailed(err)
		return err
	}
	if err := g.reloadFaults(cfg); err != nil {
		g.discard(rt, old)
		g.reloadFailed(err)
		return err
	}
	g.current.Store(rt)
	g.reloads++
	g.lastErr = ""
	for _, section := range []struct {
		name     string
		old, new any
	}{
		{"listen", old.cfg.Listen, cfg.Listen},
		{"admin", old.cfg.Admin, cfg.Admin},
		{"telemetry", old.cfg.Telemetry, cfg.Telemetry},
		{"chaos (seed, max_active, headers)", chaosSettings(old.cfg.Chaos), chaosSettings(cfg.Chaos)},
	} {
		if !reflect.DeepEqual(section.old, section.new) {
			g.logger.Warn("configuration section changed; it takes effect on restart", slog.String("section", section.name))
		}
	}
	g.logger.Info("configuration reloaded", slog.Int("routes", len(cfg.Routes)), slog.Int("upstreams", len(cfg.Upstreams)))
	g.events.add(Event{Kind: "reload", Detail: "configuration reloaded"})
	g.retire(old, rt)
	return nil
}

func (g *Gateway) reloadFailed(err error) {
	g.lastErr = err.Error()
	g.logger.Error("configuration reload refused; the previous configuration keeps serving", slog.Any("error", err))
	g.events.add(Event{Kind: "reload_failed", Detail: err.Error()})
}

// ReloadFile reads Options.ConfigPath again and reloads it. An invalid file
// is refused with its errors (file, line and key), logged, and the old
// configuration keeps serving.
func (g *Gateway) ReloadFile() error {
	if g.opts.ConfigPath == "" {
		return errors.New("gateway: no configuration file to reload")
	}
	getenv := g.opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg, err := config.Load(g.opts.ConfigPath, getenv)
	if err != nil {
		g.mu.Lock()
		g.reloadFailed(err)
		g.mu.Unlock()
		return err
	}
	return g.Reload(cfg)
}

// retire closes what old alone holds once no request runs on it any more,
// or after a minute, whichever comes first.
func (g *Gateway) retire(old, next *runtime) {
	g.bg.Add(1)
	go func() {
		defer g.bg.Done()
		// A request may have loaded old just before the swap and not yet
		// counted itself: give it a moment before trusting refs.
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		deadline := time.Now().Add(time.Minute)
		idle := 0
		for idle < 4 && time.Now().Before(deadline) {
			select {
			case <-tick.C:
			case <-g.closing:
				deadline = time.Now() // shutting down: close now
			}
			if old.refs.Load() == 0 {
				idle++
			} else {
				idle = 0
			}
		}
		g.closeRuntime(old, next)
	}()
}

// watch reloads the configuration when its file changes. It watches the
// directory, so that editors that replace the file and Kubernetes ConfigMap
// updates (a symlink swap) are seen too, and waits for changes to settle.
func (g *Gateway) watch(path string) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		_ = w.Close()
		return err
	}
	if err := w.Add(filepath.Dir(abs)); err != nil {
		_ = w.Close()
		return err
	}
	g.bg.Add(1)
	go func() {
		defer g.bg.Done()
		defer func() { _ = w.Close() }()
		const settle = 200 * time.Millisecond
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		defer timer.Stop()
		last := fileStamp(abs)
		for {
			select {
			case <-g.closing:
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) == abs || filepath.Base(ev.Name) == "..data" {
					timer.Reset(settle)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				g.logger.Warn("config watcher", slog.Any("error", err))
			case <-timer.C:
				stamp := fileStamp(abs)
				if stamp == last {
					continue
				}
				last = stamp
				g.logger.Info("configuration file changed; reloading", slog.String("path", abs))
				_ = g.ReloadFile() // logged either way
			}
		}
	}()
	return nil
}

// fileStamp identifies a version of a file by size, modification time and
// content hash prefix, so that a touch without change does not reload.
func fileStamp(path string) string {
	b, err := os.ReadFile(path) //nolint:gosec // the operator's own configuration file
	if err != nil {
		return "missing"
	}
	return string(hashBytes(b))
}

// SetFlag changes a flag at run time (the admin API): the change overrides
// the configuration's value until the flag is reset with ResetFlag, across
// reloads.
func (g *Gateway) SetFlag(f flags.Flag) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.flags.Set(f); err != nil {
		return err
	}
	g.overrides[f.Name] = f
	g.events.add(Event{Kind: "flag", Detail: flagDetail(f)})
	g.logger.Info("flag set", slog.String("flag", f.Name), slog.Bool("enabled", f.Enabled), slog.Float64("percent", f.Percent))
	return nil
}

// ResetFlag drops a flag's admin override: the configuration's value (or
// none) applies again.
func (g *Gateway) ResetFlag(name string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.overrides, name)
	rt := g.current.Load()
	fl := flagList(rt.cfg.Flags)
	for i, f := range fl {
		if o, ok := g.overrides[f.Name]; ok {
			fl[i] = o
		}
	}
	for _, o := range g.overrides {
		if _, ok := rt.cfg.Flags[o.Name]; !ok {
			fl = append(fl, o)
		}
	}
	if err := g.flags.Replace(fl...); err != nil {
		return err
	}
	g.events.add(Event{Kind: "flag", Detail: name + " reset to its configured value"})
	return nil
}

// chaosSettings are the parts of the chaos section a reload cannot change.
func chaosSettings(c *config.Chaos) config.Chaos {
	if c == nil {
		return config.Chaos{}
	}
	return config.Chaos{Seed: c.Seed, MaxActive: c.MaxActive, Headers: c.Headers}
}
