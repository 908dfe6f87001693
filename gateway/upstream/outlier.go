package upstream

import (
	"math"
	"slices"
	"time"
)

// ejectionTime is the length of the n-th consecutive ejection: n × base,
// capped at maxT.
func ejectionTime(base, maxT time.Duration, n int) time.Duration {
	if n <= 0 {
		n = 1
	}
	if base > 0 && time.Duration(n) > maxT/base {
		return maxT
	}
	return min(base*time.Duration(n), maxT)
}

// canEject reports whether one more host may be ejected when ejected of
// total are ejected already: the share after ejecting must stay within pct,
// except that one host may always be ejected.
func canEject(ejected, total int, pct float64) bool {
	return ejected == 0 || float64(ejected+1) <= pct*float64(total)+1e-9
}

// ivStat is one host's counters over one outlier interval.
type ivStat struct {
	requests, failures int
	responses          int
	latency            int64 // sum, ns
}

// successRateOutliers returns the positions of the hosts whose success rate
// is below mean − StdevFactor·stdev among the hosts with at least
// MinRequests requests, when there are at least MinHosts of them.
func successRateOutliers(st []ivStat, sr SuccessRate) []int {
	var idx []int
	var rates []float64
	for i, s := range st {
		if s.requests >= sr.MinRequests && s.requests > 0 {
			idx = append(idx, i)
			rates = append(rates, float64(s.requests-s.failures)/float64(s.requests))
		}
	}
	if len(idx) < sr.MinHosts || len(idx) == 0 {
		return nil
	}
	var mean float64
	for _, r := range rates {
		mean += r
	}
	mean /= float64(len(rates))
	var v float64
	for _, r := range rates {
		v += (r - mean) * (r - mean)
	}
	threshold := mean - sr.StdevFactor*math.Sqrt(v/float64(len(rates)))
	var out []int
	for k, r := range rates {
		if r < threshold {
			out = append(out, idx[k])
		}
	}
	return out
}

// latencyOutliers returns the positions of the hosts whose mean latency
// exceeds both Factor × the median of the other eligible hosts' means and
// Threshold. Eligible hosts have at least MinRequests responses; nothing is
// ejected with fewer than MinHosts of them.
func latencyOutliers(st []ivStat, l Latency) []int {
	var idx []int
	var means []float64
	for i, s := range st {
		if s.responses >= l.MinRequests && s.responses > 0 {
			idx = append(idx, i)
			means = append(means, float64(s.latency)/float64(s.responses))
		}
	}
	if len(idx) < max(l.MinHosts, 2) {
		return nil
	}
	var out []int
	others := make([]float64, 0, len(means)-1)
	for k, m := range means {
		if m <= float64(l.Threshold) {
			continue
		}
		others = others[:0]
		others = append(others, means[:k]...)
		others = append(others, means[k+1:]...)
		if m > l.Factor*median(others) {
			out = append(out, idx[k])
		}
	}
	return out
}

// median sorts xs and returns its median; xs must not be empty.
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// ejectFor ejects h for reason at now, if the ejection limit allows.
func (p *Pool) ejectFor(h *host, reason string, now int64) {
	hs := p.hosts.Load().hosts
	p.omu.Lock()
	evs := p.tryEjectLocked(nil, hs, h, reason, now)
	p.omu.Unlock()
	if len(evs) > 0 {
		select { // let the loop schedule the readmission
		case p.wake <- struct{}{}:
		default:
		}
	}
	p.emit(evs)
}

// tryEjectLocked ejects h unless it is ejected already or the limit forbids
// it, appending the events to evs. A host whose ejection has run out but
// that the outlier loop has not readmitted yet is readmitted first.
func (p *Pool) tryEjectLocked(evs []Event, hs []*host, h *host, reason string, now int64) []Event {
	if h.ejected {
		if now < h.ejectedAt.Load() {
			return evs
		}
		evs = p.readmitLocked(evs, h, now)
	}
	ejected := 0
	for _, o := range hs {
		if o.ejected && now < o.ejectedAt.Load() {
			ejected++
		}
	}
	if !canEject(ejected, len(hs), p.out.MaxEjectionPercent) {
		return evs
	}
	h.multiplier++
	h.ejections++
	h.ejected = true
	d := ejectionTime(p.out.BaseEjectionTime, p.out.MaxEjectionTime, h.multiplier)
	h.ejectedAt.Store(max(now+int64(d), 1))
	h.mu.Lock()
	h.cons5xx, h.consLocal = 0, 0
	h.mu.Unlock()
	return append(evs, p.event(h, EventEjected, reason, now, d))
}

func (p *Pool) readmitLocked(evs []Event, h *host, now int64) []Event {
	h.ejected = false
	h.ejectedAt.Store(0)
	h.resetEWMA(now)
	h.mu.Lock()
	h.cons5xx, h.consLocal = 0, 0
	h.mu.Unlock()
	return append(evs, p.event(h, EventReadmitted, ReasonExpired, now, 0))
}

// outlierTick readmits the hosts whose ejection ended by now and, when
// interval is set (a full Interval has passed), decays the multipliers of
// admitted hosts and runs the success-rate and latency rules over the
// interval's counters. It returns the events and the earliest end of an
// ejection still running (0 if none).
func (p *Pool) outlierTick(now int64, interval bool) (evs []Event, next int64) {
	hs := p.hosts.Load().hosts
	var st []ivStat
	if interval {
		st = make([]ivStat, len(hs))
		for i, h := range hs {
			h.mu.Lock()
			st[i] = ivStat{h.ivRequests, h.ivFailures, h.ivResponses, h.ivLatency}
			h.ivRequests, h.ivFailures, h.ivResponses, h.ivLatency = 0, 0, 0, 0
			h.mu.Unlock()
		}
	}
	p.omu.Lock()
	defer p.omu.Unlock()
	for _, h := range hs {
		switch {
		case h.ejected && now >= h.ejectedAt.Load():
			evs = p.readmitLocked(evs, h, now)
		case interval && !h.ejected && h.multiplier > 0:
			h.multiplier--
		}
	}
	if interval {
		if sr := p.out.SuccessRate; sr != nil {
			for _, i := range successRateOutliers(st, *sr) {
				evs = p.tryEjectLocked(evs, hs, hs[i], ReasonSuccessRate, now)
			}
		}
		if l := p.out.Latency; l != nil {
			for _, i := range latencyOutliers(st, *l) {
				evs = p.tryEjectLocked(evs, hs, hs[i], ReasonLatency, now)
			}
		}
	}
	for _, h := range hs {
		if h.ejected {
			if u := h.ejectedAt.Load(); next == 0 || u < next {
				next = u
			}
		}
	}
	return evs, next
}

// outlierLoop runs outlierTick every Interval and at the end of every
// ejection, until Close.
func (p *Pool) outlierLoop() {
	defer p.wg.Done()
	iv := int64(p.out.Interval)
	nextIv := p.nanos() + iv
	t := time.NewTimer(time.Duration(iv))
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.wake:
			t.Stop() // Go 1.23 timers: no stale tick after Stop
		case <-t.C:
		}
		now := p.nanos()
		full := now >= nextIv
		if full {
			nextIv = now + iv
		}
		evs, next := p.outlierTick(now, full)
		p.emit(evs)
		wake := nextIv
		if next != 0 && next < wake {
			wake = next
		}
		t.Reset(time.Duration(max(wake-p.nanos(), int64(time.Millisecond))))
	}
}
