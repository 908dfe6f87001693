package upstream

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/keelhq/keel/breaker"
)

// target is one Config.Targets entry.
type target struct {
	host, port string
	ip         bool
}

func parseTarget(t string) target {
	h, port, _ := splitTarget(t) // validated
	_, err := netip.ParseAddr(h)
	return target{host: h, port: port, ip: err == nil}
}

func dnsTimeout(refresh time.Duration) time.Duration {
	return min(orDefault(refresh, DefaultDNSRefresh), 5*time.Second)
}

// resolve returns every target's addresses, keeping a target's previous
// addresses when its lookup fails.
func (p *Pool) resolve(ctx context.Context, prev [][]string) [][]string {
	out := make([][]string, len(p.targets))
	for i, t := range p.targets {
		if t.ip {
			out[i] = []string{net.JoinHostPort(t.host, t.port)}
			continue
		}
		ips, err := p.resolver.LookupHost(ctx, t.host)
		if err != nil || len(ips) == 0 {
			if p.logger != nil {
				p.logger.LogAttrs(ctx, slog.LevelWarn, "upstream DNS lookup failed",
					slog.String("upstream", p.name), slog.String("target", t.host), slog.Any("error", err))
			}
			out[i] = prev[i]
			continue
		}
		addrs := make([]string, 0, len(ips))
		for _, ip := range ips {
			addrs = append(addrs, net.JoinHostPort(ip, t.port))
		}
		slices.Sort(addrs)
		out[i] = addrs
	}
	return out
}

// refresh resolves the targets and swaps in a new host set if the addresses
// changed. Hosts that stay keep their state.
func (p *Pool) refresh(ctx context.Context) {
	p.setMu.Lock()
	prev := p.lastAddrs
	p.setMu.Unlock()
	addrs := p.resolve(ctx, prev)

	p.setMu.Lock()
	if p.closed {
		p.setMu.Unlock()
		return
	}
	p.lastAddrs = addrs
	old := p.hosts.Load()
	now := p.nanos()
	next := &hostSet{byAddr: make(map[string]*host, len(old.hosts))}
	var evs []Event
	for _, list := range addrs {
		for _, a := range list {
			if next.byAddr[a] != nil {
				continue
			}
			h := old.byAddr[a]
			if h == nil {
				h = p.newHostLocked(a, now)
				evs = append(evs, p.event(h, EventAdded, ReasonDNS, now, 0))
			}
			next.byAddr[a] = h
			next.hosts = append(next.hosts, h)
		}
	}
	for _, h := range old.hosts {
		if next.byAddr[h.addr] == nil {
			close(h.stop)
			evs = append(evs, p.event(h, EventRemoved, ReasonDNS, now, 0))
		}
	}
	if len(evs) > 0 {
		p.hosts.Store(next)
		for _, h := range next.hosts {
			if old.byAddr[h.addr] == nil && p.hc != nil {
				p.wg.Add(1)
				go p.healthLoop(h)
			}
		}
	}
	p.setMu.Unlock()
	p.emit(evs)
}

func (p *Pool) newHostLocked(addr string, now int64) *host {
	h := newHost(addr, now, p.defRTT)
	if p.brCfg != nil {
		bc := *p.brCfg
		if bc.Name == "" {
			bc.Name = p.name + "/" + addr
		} else {
			bc.Name += "/" + addr
		}
		if p.brRand != nil {
			bc.Rand = rand.New(rand.NewPCG(p.brRand.Uint64(), p.brRand.Uint64()))
		}
		h.br = breaker.MustNew(bc)
	}
	return h
}

// dnsLoop re-resolves the targets every refresh until Close.
func (p *Pool) dnsLoop(refresh time.Duration) {
	defer p.wg.Done()
	t := time.NewTimer(refresh)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(p.ctx, dnsTimeout(refresh))
		p.refresh(ctx)
		cancel()
		t.Reset(refresh)
	}
}
