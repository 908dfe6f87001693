package upstream

import (
	"context"
	"time"
)

// healthState counts consecutive check results and decides transitions.
// The zero value is a healthy host with no history.
type healthState struct {
	unhealthy bool
	ok, bad   int
}

// observe records one check result and reports whether the host's health
// changed: UnhealthyThreshold failures in a row make a healthy host
// unhealthy, HealthyThreshold passes in a row make it healthy again.
func (s *healthState) observe(pass bool, healthyAfter, unhealthyAfter int) (changed bool) {
	if pass {
		s.ok, s.bad = s.ok+1, 0
		if s.unhealthy && s.ok >= healthyAfter {
			s.unhealthy = false
			return true
		}
		return false
	}
	s.bad, s.ok = s.bad+1, 0
	if !s.unhealthy && s.bad >= unhealthyAfter {
		s.unhealthy = true
		return true
	}
	return false
}

// jittered returns interval × (1 − j + 2·j·r) for r in [0, 1): a wait
// uniformly spread over interval × (1 ± j).
func jittered(interval time.Duration, j, r float64) time.Duration {
	return time.Duration(float64(interval) * (1 - j + 2*j*r))
}

// healthLoop checks h every Interval ± Jitter until the host leaves the pool
// or the pool closes. The first check comes after a random part of one
// interval, so hosts added together are not checked together.
func (p *Pool) healthLoop(h *host) {
	defer p.wg.Done()
	hc := p.hc
	var st healthState
	t := time.NewTimer(time.Duration(float64(hc.Interval) * hc.Jitter * p.pk.rand.float()))
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-h.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(p.ctx, hc.Timeout)
		err := p.check(ctx, h.addr)
		cancel()
		if p.ctx.Err() != nil {
			return
		}
		if st.observe(err == nil, hc.HealthyThreshold, hc.UnhealthyThreshold) {
			h.healthy.Store(!st.unhealthy)
			kind := EventHealthy
			if st.unhealthy {
				kind = EventUnhealthy
			}
			p.emit([]Event{p.event(h, kind, ReasonHealthCheck, p.nanos(), 0)})
		}
		t.Reset(jittered(hc.Interval, hc.Jitter, p.pk.rand.float()))
	}
}
