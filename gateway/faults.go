package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/keelhq/keel/chaos"
	"github.com/keelhq/keel/gateway/config"
)

// setupChaos builds the gateway's fault injector. It always exists, so that
// the admin API can add faults to a gateway configured without any; with no
// fault it costs a pointer load per attempt.
func (g *Gateway) setupChaos(cfg *config.Config) error {
	cc := chaos.Config{Name: "gateway", Logger: g.logger, OnInject: g.injected}
	if c := cfg.Chaos; c != nil {
		cc.Seed = c.Seed
		cc.MaxActive = c.MaxActive
		cc.Headers.Enabled = c.Headers
		cc.Faults = configFaults(c)
	}
	in, err := chaos.New(cc)
	if err != nil {
		return err
	}
	g.chaos = in
	g.adminFaults = make(map[string]chaos.Fault)
	g.knownFaults = make(map[string]chaos.Fault)
	for _, f := range in.List() {
		g.knownFaults[f.ID] = f
	}
	return nil
}

// watchFaults puts on the timeline the faults that appear or vanish
// without an admin call: those that expire (Fault.Duration) and those a
// reload adds or drops. It runs until Shutdown.
func (g *Gateway) watchFaults() {
	g.bg.Add(1)
	go func() {
		defer g.bg.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-g.closing:
				return
			case <-tick.C:
				g.syncFaults()
			}
		}
	}()
}

// syncFaults compares the injector's faults with the known ones and records
// the difference as events.
func (g *Gateway) syncFaults() {
	cur := g.chaos.List()
	g.mu.Lock()
	seen := make(map[string]bool, len(cur))
	var evs []Event
	for _, f := range cur {
		seen[f.ID] = true
		if _, ok := g.knownFaults[f.ID]; !ok {
			g.knownFaults[f.ID] = f
			evs = append(evs, Event{Kind: "fault_added", Host: f.Host, Detail: faultDetail(f)})
		}
	}
	for id := range g.knownFaults {
		if !seen[id] {
			delete(g.knownFaults, id)
			delete(g.adminFaults, id)
			evs = append(evs, Event{Kind: "fault_removed", Detail: id + " ended"})
		}
	}
	g.mu.Unlock()
	for _, e := range evs {
		g.events.add(e)
	}
}

func configFaults(c *config.Chaos) []chaos.Fault {
	if c == nil {
		return nil
	}
	out := make([]chaos.Fault, 0, len(c.Faults))
	for i := range c.Faults {
		out = append(out, c.Faults[i].Chaos())
	}
	return out
}

// injected counts injected faults in the log at debug level.
func (g *Gateway) injected(ctx context.Context, inj chaos.Injection) {
	g.logger.LogAttrs(ctx, slog.LevelDebug, "fault injected", slog.String("fault", inj.Fault), slog.String("kind", string(inj.Kind)))
}

// reloadFaults replaces the injector's faults with those of cfg plus those
// added through the admin API. The caller holds g.mu.
func (g *Gateway) reloadFaults(cfg *config.Config) error {
	faults := configFaults(cfg.Chaos)
	for _, f := range g.adminFaults {
		faults = append(faults, f)
	}
	return g.chaos.Replace(faults)
}

// faultsStatus is the body of GET /faults.
type faultsStatus struct {
	Seed   uint64        `json:"seed"`
	Faults []chaos.Fault `json:"faults"`
	Stats  chaos.Stats   `json:"stats"`
}

func (g *Gateway) getFaults(w http.ResponseWriter, _ *http.Request) {
	fs := g.chaos.List()
	if fs == nil {
		fs = []chaos.Fault{}
	}
	writeJSON(w, http.StatusOK, faultsStatus{Seed: g.chaos.Seed(), Faults: fs, Stats: g.chaos.Stats()})
}

// postFault adds a fault: the body is a chaos.Fault in JSON.
func (g *Gateway) postFault(w http.ResponseWriter, r *http.Request) {
	var f chaos.Fault
	if !decodeJSON(w, r, &f) {
		return
	}
	g.mu.Lock()
	added, err := g.chaos.Add(f)
	if err == nil {
		g.adminFaults[added.ID] = added
		g.knownFaults[added.ID] = added
	}
	g.mu.Unlock()
	if err != nil {
		writeAdminError(w, http.StatusBadRequest, err.Error())
		return
	}
	g.events.add(Event{Kind: "fault_added", Host: added.Host, Detail: faultDetail(added)})
	g.logger.InfoContext(r.Context(), "fault added", slog.String("fault", added.ID), slog.String("kind", string(added.Kind)), slog.String("route", added.Route))
	writeJSON(w, http.StatusCreated, added)
}

func (g *Gateway) deleteFault(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	g.mu.Lock()
	ok := g.chaos.Remove(id)
	delete(g.adminFaults, id)
	delete(g.knownFaults, id)
	g.mu.Unlock()
	if !ok {
		writeAdminError(w, http.StatusNotFound, "no fault "+id)
		return
	}
	g.events.add(Event{Kind: "fault_removed", Detail: id})
	w.WriteHeader(http.StatusNoContent)
}

func (g *Gateway) deleteFaults(w http.ResponseWriter, _ *http.Request) {
	g.mu.Lock()
	err := g.chaos.Replace(nil)
	clear(g.adminFaults)
	clear(g.knownFaults)
	g.mu.Unlock()
	if err != nil {
		writeAdminError(w, http.StatusInternalServerError, err.Error())
		return
	}
	g.events.add(Event{Kind: "fault_removed", Detail: "all faults"})
	w.WriteHeader(http.StatusNoContent)
}

func faultDetail(f chaos.Fault) string {
	d := f.ID + ": " + string(f.Kind)
	switch f.Kind {
	case chaos.KindLatency:
		d += " " + f.Latency.String()
	case chaos.KindError:
		if f.Status != 0 {
			d += " " + http.StatusText(f.Status)
		}
	}
	if f.Percent != nil {
		d += " on " + strconv.FormatFloat(*f.Percent, 'f', -1, 64) + "% of"
	} else {
		d += " on all"
	}
	switch {
	case f.Host != "" && f.Route != "":
		d += " route " + f.Route + " to " + f.Host
	case f.Host != "":
		d += " requests to " + f.Host
	case f.Route != "":
		d += " route " + f.Route
	default:
		d += " requests"
	}
	if f.Duration > 0 {
		d += " for " + f.Duration.String()
	} else if !f.Until.IsZero() {
		d += " for " + time.Until(f.Until).Round(100*time.Millisecond).String()
	}
	return d
}
