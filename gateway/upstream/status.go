package upstream

import "time"

// Status is a snapshot of a pool, for the admin API and the dashboard.
type Status struct {
	Name     string       `json:"name"`
	Balancer string       `json:"balancer"`
	Panic    bool         `json:"panic"` // fewer than PanicThreshold of the hosts are available
	Hosts    []HostStatus `json:"hosts"`
}

// HostStatus is a snapshot of one host.
type HostStatus struct {
	Address string `json:"address"` // "ip:port"
	Healthy bool   `json:"healthy"` // by active health checks; true without them
	Ejected bool   `json:"ejected"` // by outlier detection, now
	Drained bool   `json:"drained"`
	// EjectedUntil is when the current ejection ends; zero when not ejected.
	EjectedUntil time.Time `json:"ejected_until,omitzero"`
	// Ejections counts the host's ejections since it joined the pool.
	Ejections int `json:"ejections"`
	// EjectionMultiplier is n of the next ejection's n × BaseEjectionTime,
	// minus one.
	EjectionMultiplier int `json:"ejection_multiplier"`
	// Breaker is the host breaker's state ("closed", "open", …); empty
	// without breakers.
	Breaker  string `json:"breaker,omitempty"`
	Active   int64  `json:"active"`   // attempts waiting for response headers
	Requests uint64 `json:"requests"` // attempts with an outcome (not canceled by the caller)
	Failures uint64 `json:"failures"` // of which 5xx or local-origin failures
	// LatencyEWMA is the peak-EWMA time to response headers, decayed to now.
	LatencyEWMA time.Duration `json:"latency_ewma_ns"`
}

// Status returns a snapshot of the pool. It is safe to call at any time,
// also after Close.
func (p *Pool) Status() Status {
	hs := p.hosts.Load().hosts
	now := p.nanos()
	st := Status{Name: p.name, Balancer: p.balancer, Hosts: make([]HostStatus, len(hs))}
	live, avail := 0, 0
	p.omu.Lock()
	for i, h := range hs {
		until := h.ejectedAt.Load()
		ejected := until != 0 && now < until
		s := HostStatus{
			Address:            h.addr,
			Healthy:            h.healthy.Load(),
			Ejected:            ejected,
			Drained:            h.drained.Load(),
			Ejections:          h.ejections,
			EjectionMultiplier: h.multiplier,
			Active:             h.active.Load(),
			Requests:           h.requests.Load(),
			Failures:           h.failures.Load(),
			LatencyEWMA:        time.Duration(h.ewma(now, p.pk.tau)),
		}
		if ejected {
			s.EjectedUntil = p.wall(until)
		}
		st.Hosts[i] = s
		if !s.Drained {
			live++
			if h.available(now) {
				avail++
			}
		}
	}
	p.omu.Unlock()
	for i, h := range hs {
		if h.br != nil {
			st.Hosts[i].Breaker = h.br.State().String()
		}
	}
	st.Panic = live > 0 && p.pk.panic > 0 && float64(avail) < p.pk.panic*float64(live)
	return st
}
