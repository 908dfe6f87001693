// Keel dashboard: reads the server-sent events of api/stream and draws them.
// Plain JavaScript, no build step; charts by uPlot (vendor/uplot).
(() => {
  'use strict';

  const MAX_EVENTS = 300; // timeline entries kept in the page
  const KPI_WINDOW = 10; // seconds the KPI cards summarise

  const state = {
    historySec: 300,
    started: null, // status.started of the gateway we are showing
    points: [], // {t (unix seconds), requests, errors, stale, fallbacks, rejected, p50_ms, p95_ms, p99_ms}
    events: [], // gateway events, oldest first
    seen: new Set(), // event sequence numbers
    status: null,
    serverTime: 0, // ms, from the last tick
    lastTick: 0, // ms, local clock, when the last tick arrived
    firstTick: 0, // ms, local clock, when the first tick arrived
  };

  // Counters for tests and the curious: window.keelDashboard.points etc.
  const probe = { points: 0, snapshots: 0, events: 0, draws: 0, faultWindows: 0, connected: false };
  window.keelDashboard = probe;

  const colors = {
    requests: '#2563eb',
    errors: '#c81e1e',
    rejected: '#d97706',
    degraded: '#7c3aed',
    success: '#15803d',
    p50: '#0d9488',
    p95: '#d97706',
    p99: '#c81e1e',
    axis: '#5d6673',
    grid: '#eef0f3',
  };

  // ---- small DOM helpers (text only: nothing from the feed becomes HTML) ----

  function h(tag, props, ...children) {
    const e = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') e.className = v;
        else if (k === 'data') Object.assign(e.dataset, v);
        else if (k === 'title') e.title = v;
        else e.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function badge(text, tone, extra) {
    return h('span', { class: 'badge' + (tone ? ' ' + tone : '') + (extra ? ' ' + extra : '') }, text);
  }

  // ---- formatting ----

  const fmtInt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const fmt1 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

  function fmtRate(v) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    return v >= 100 ? fmtInt.format(v) : fmt1.format(v);
  }

  function fmtMs(ms) {
    if (ms === null || ms === undefined || !isFinite(ms)) return '–';
    if (ms >= 1000) return fmt1.format(ms / 1000) + ' s';
    if (ms >= 10) return fmtInt.format(ms) + ' ms';
    return fmt1.format(ms) + ' ms';
  }

  function fmtPct(v) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    if (v >= 99.95 && v < 100) return '99.9+%';
    return (v >= 99 || v < 1 ? fmt1 : fmtInt).format(v) + '%';
  }

  function fmtDuration(sec) {
    sec = Math.max(0, Math.round(sec));
    const d = Math.floor(sec / 86400), hh = Math.floor(sec % 86400 / 3600), m = Math.floor(sec % 3600 / 60), s = sec % 60;
    if (d) return d + 'd ' + hh + 'h';
    if (hh) return hh + 'h ' + m + 'm';
    if (m) return m + 'm ' + s + 's';
    return s + 's';
  }

  function fmtClock(date) {
    return date.toLocaleTimeString('en-GB', { hour12: false });
  }

  function fmtTick(sec, incr) {
    const s = fmtClock(new Date(sec * 1000));
    return incr < 60 ? s : s.slice(0, 5);
  }

  // ---- events: categories and colours ----

  // tone maps an event kind to a badge tone and a marker colour.
  function tone(kind) {
    const k = kind.toLowerCase();
    if (k.includes('fault')) return 'fault';
    if (k.includes('half')) return 'warn'; // breaker_half_open
    if (k.includes('fail') || k.includes('kill') || k.includes('crash') || k.includes('unhealthy') ||
        k.endsWith('_open')) return 'bad'; // breaker_open, breaker_forced_open
    if (k.includes('eject') || k.includes('drain') || k.includes('admin')) return 'warn';
    if (k.includes('readmit') || k.includes('healthy') || k.includes('restart') || k.endsWith('closed')) return 'ok';
    return 'info';
  }

  const markerColor = { bad: '#c81e1e', warn: '#d97706', ok: '#15803d', fault: '#7c3aed', info: '#2563eb' };

  // faultWindows pairs the events that open a fault window with those that
  // close it: the gateway's fault_added "<id>: …" and fault_removed "<id>"
  // (or "all faults"), or any "…fault…" kinds ending in start/begin/_on and
  // end/stop/_off for the same upstream and host. A window still open
  // reaches the right edge.
  function faultWindows() {
    const out = [];
    const open = new Map();
    for (const e of state.events) {
      const k = e.kind.toLowerCase();
      if (!k.includes('fault')) continue;
      const detail = e.detail || '';
      if (/(added|start|begin|_on)$/.test(k)) {
        const key = k.endsWith('added') ? 'id:' + detail.split(':')[0] : (e.upstream || '') + '|' + (e.host || '');
        if (!open.has(key)) open.set(key, e.t);
      } else if (/(removed|end|stop|_off)$/.test(k)) {
        if (k.endsWith('removed') && detail === 'all faults') {
          for (const t of open.values()) out.push([t, e.t]);
          open.clear();
          continue;
        }
        const key = k.endsWith('removed') ? 'id:' + detail : (e.upstream || '') + '|' + (e.host || '');
        if (open.has(key)) {
          out.push([open.get(key), e.t]);
          open.delete(key);
        }
      }
    }
    for (const t of open.values()) out.push([t, Infinity]);
    return out;
  }

  // markers is a uPlot plugin that draws timeline events as dashed vertical
  // lines and fault windows as shaded bands.
  function markers() {
    return {
      hooks: {
        drawClear: [(u) => {
          const { left, top, width, height } = u.bbox;
          const min = u.scales.x.min, max = u.scales.x.max;
          if (min === undefined || max === undefined || min === null) return;
          const ctx = u.ctx;
          ctx.save();
          ctx.beginPath();
          ctx.rect(left, top, width, height);
          ctx.clip();
          ctx.fillStyle = 'rgba(124, 58, 237, 0.08)';
          const windows = faultWindows();
          probe.faultWindows = windows.length;
          for (const [a, b] of windows) {
            const x0 = u.valToPos(Math.max(a, min), 'x', true);
            const x1 = u.valToPos(Math.min(b, max), 'x', true);
            if (x1 > x0) ctx.fillRect(x0, top, x1 - x0, height);
          }
          ctx.restore();
        }],
        draw: [(u) => {
          const { left, top, width, height } = u.bbox;
          const min = u.scales.x.min, max = u.scales.x.max;
          if (min === undefined || max === undefined || min === null) return;
          const ctx = u.ctx;
          const px = window.devicePixelRatio || 1;
          ctx.save();
          ctx.beginPath();
          ctx.rect(left, top, width, height);
          ctx.clip();
          ctx.lineWidth = px;
          ctx.setLineDash([4 * px, 3 * px]);
          for (const e of state.events) {
            if (e.t < min || e.t > max) continue;
            const x = Math.round(u.valToPos(e.t, 'x', true)) + 0.5;
            ctx.strokeStyle = markerColor[tone(e.kind)];
            ctx.globalAlpha = 0.75;
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
          }
          ctx.restore();
          probe.draws++;
        }],
      },
    };
  }

  // ---- charts ----

  const CHART_HEIGHT = 200;
  const charts = [];

  function chart(id, series, yAxis, scaleY) {
    const el = document.getElementById(id);
    const opts = {
      width: Math.max(el.clientWidth, 200),
      height: CHART_HEIGHT,
      cursor: { sync: { key: 'keel' }, points: { size: 6 } },
      legend: { live: true },
      scales: { x: { time: true }, y: scaleY || { auto: true, range: (u, min, max) => [0, Math.max(max * 1.1, 1)] } },
      axes: [
        {
          stroke: colors.axis, grid: { stroke: colors.grid, width: 1 }, ticks: { stroke: colors.grid, width: 1 },
          // 24-hour clock times, seconds when the ticks are closer than a minute
          values: (u, splits, ax, space, incr) => splits.map((v) => fmtTick(v, incr)),
        },
        Object.assign({ stroke: colors.axis, grid: { stroke: colors.grid, width: 1 }, ticks: { show: false }, size: 56 }, yAxis),
      ],
      series: [{ value: (u, v) => (v === null ? '–' : fmtClock(new Date(v * 1000))) }].concat(series.map((s) => Object.assign({
        width: 1.5,
        points: { show: false },
        spanGaps: false,
      }, s))),
      plugins: [markers()],
    };
    const empty = [[]].concat(series.map(() => []));
    const u = new uPlot(opts, empty, el);
    charts.push({ u, el, build: null });
    if (window.ResizeObserver) {
      let w = el.clientWidth;
      new ResizeObserver(() => {
        if (el.clientWidth !== w && el.clientWidth > 0) {
          w = el.clientWidth;
          u.setSize({ width: w, height: CHART_HEIGHT });
        }
      }).observe(el);
    }
    return charts[charts.length - 1];
  }

  function setupCharts() {
    const perSec = (u, v) => (v === null ? '–' : fmtRate(v) + '/s');
    const thr = chart('chart-throughput', [
      { label: 'requests', stroke: colors.requests, fill: 'rgba(37, 99, 235, 0.07)', value: perSec },
      { label: 'errors', stroke: colors.errors, value: perSec },
      { label: 'rejected', stroke: colors.rejected, value: perSec },
      { label: 'degraded', stroke: colors.degraded, value: perSec },
    ], { values: (u, vals) => vals.map((v) => fmtRate(v)) });
    thr.build = (p) => [p.requests, p.errors, p.rejected, p.stale + p.fallbacks];

    // Shares of each second's requests that failed or were degraded, on a
    // scale that grows with them (success is 100% minus errors): a spike of
    // 3% stays visible, as it would not on a 0–100% axis.
    const pct = (u, v) => (v === null ? '–' : fmtPct(v));
    const rates = chart('chart-rates', [
      { label: 'errors', stroke: colors.errors, fill: 'rgba(200, 30, 30, 0.08)', value: pct },
      { label: 'rejected', stroke: colors.rejected, value: pct },
      { label: 'degraded', stroke: colors.degraded, value: pct },
    ], { values: (u, vals) => vals.map((v) => fmt1.format(v) + '%') },
    { auto: true, range: (u, min, max) => [0, Math.min(100, Math.max(max * 1.15, 1))] });
    rates.build = (p) => {
      if (!p.requests) return [null, null, null];
      return [100 * p.errors / p.requests, 100 * p.rejected / p.requests, 100 * (p.stale + p.fallbacks) / p.requests];
    };

    const ms = (u, v) => (v === null ? '–' : fmtMs(v));
    const lat = chart('chart-latency', [
      { label: 'p50', stroke: colors.p50, value: ms },
      { label: 'p95', stroke: colors.p95, value: ms },
      { label: 'p99', stroke: colors.p99, value: ms },
    ], { values: (u, vals) => vals.map((v) => fmtMs(v)) });
    lat.build = (p) => (p.requests ? [p.p50_ms, p.p95_ms, p.p99_ms] : [null, null, null]);
  }

  function redrawCharts(dataChanged) {
    const xs = state.points.map((p) => p.t);
    for (const c of charts) {
      if (!dataChanged) {
        c.u.redraw(false);
        continue;
      }
      const cols = c.u.series.slice(1).map(() => []);
      for (const p of state.points) {
        const vals = c.build(p);
        for (let i = 0; i < cols.length; i++) cols[i].push(vals[i]);
      }
      c.u.setData([xs].concat(cols));
      // Unless the pointer is on the chart, the legend shows the newest
      // values.
      if (xs.length && (c.u.cursor.left === undefined || c.u.cursor.left < 0)) c.u.setLegend({ idx: xs.length - 1 });
    }
    probe.points = state.points.length;
  }

  // ---- series ----

  // upsert adds points, replacing one whose second we already have (the
  // newest point of a tick may be incomplete and come again).
  function upsert(points) {
    const ps = state.points;
    // The gateway pads the seconds before it started with zeros; they are
    // not data, and would squeeze a young gateway's charts to the right.
    const since = state.started ? Math.floor(Date.parse(state.started) / 1000) : -Infinity;
    for (const raw of points) {
      const p = Object.assign({}, raw, { t: Date.parse(raw.time) / 1000 });
      if (p.t < since) continue;
      const n = ps.length;
      if (n === 0 || p.t > ps[n - 1].t) ps.push(p);
      else if (p.t === ps[n - 1].t) ps[n - 1] = p;
      else {
        const i = ps.findIndex((q) => q.t >= p.t);
        if (ps[i].t === p.t) ps[i] = p;
        else ps.splice(i, 0, p);
      }
    }
    if (ps.length) {
      const cutoff = ps[ps.length - 1].t - state.historySec;
      let drop = 0;
      while (drop < ps.length && ps[drop].t <= cutoff) drop++;
      if (drop) ps.splice(0, drop);
    }
  }

  // ---- KPIs ----

  function setKpi(id, value, cls) {
    const el = document.getElementById(id);
    el.querySelector('.kpi-value').textContent = value;
    el.classList.remove('ok', 'warn', 'bad');
    if (cls) el.classList.add(cls);
  }

  function renderKpis() {
    const last = state.points.slice(-KPI_WINDOW);
    const n = last.length || 1;
    let req = 0, err = 0, rej = 0, deg = 0, p99 = null;
    for (const p of last) {
      req += p.requests; err += p.errors; rej += p.rejected; deg += p.stale + p.fallbacks;
      if (p.requests && (p99 === null || p.p99_ms > p99)) p99 = p.p99_ms;
    }
    setKpi('kpi-rps', last.length ? fmtRate(req / n) : '–');
    const success = req ? 100 * (req - err) / req : null;
    setKpi('kpi-success', fmtPct(success), success === null ? null : success >= 99.9 ? 'ok' : success >= 99 ? 'warn' : 'bad');
    setKpi('kpi-errors', last.length ? fmtRate(err / n) : '–', err ? 'bad' : null);
    setKpi('kpi-p99', fmtMs(p99));
    setKpi('kpi-rejected', last.length ? fmtRate(rej / n) : '–', rej ? 'warn' : null);
    setKpi('kpi-degraded', last.length ? fmtRate(deg / n) : '–', deg ? 'warn' : null);
  }

  // ---- status: header, upstreams, capacity, flags ----

  function renderHeader(st) {
    const now = state.serverTime || Date.now();
    if (st.started) {
      document.getElementById('uptime').textContent = 'up ' + fmtDuration((now - Date.parse(st.started)) / 1000);
    }
    document.getElementById('reloads').textContent = st.reloads === 1 ? '1 reload' : (st.reloads || 0) + ' reloads';
    const banner = document.getElementById('banner');
    let msg = '', bad = false;
    if (st.draining) msg = 'Draining: the gateway is shutting down and refuses new requests.';
    if (st.last_reload_error) {
      msg = (msg ? msg + ' ' : '') + 'Last reload failed: ' + st.last_reload_error;
      bad = true;
    }
    banner.hidden = !msg;
    banner.textContent = msg;
    banner.classList.toggle('bad', bad);
  }

  function breakerTone(s) {
    if (s === 'closed') return 'ok';
    if (s === 'open' || s === 'forced_open') return 'bad';
    if (s && s.includes('half')) return 'warn';
    return null;
  }

  function hostRow(up, host, now) {
    const health = [];
    let rowTone = null;
    if (!host.healthy) { health.push(badge('unhealthy', 'bad')); rowTone = 'down'; }
    if (host.ejected) {
      const left = host.ejected_until ? (Date.parse(host.ejected_until) - now) / 1000 : 0;
      health.push(badge(left > 0 ? 'ejected ' + fmtDuration(left) : 'ejected', 'warn', 'ejected'));
      rowTone = rowTone || 'warn';
    }
    if (host.drained) { health.push(badge('drained', null)); rowTone = rowTone || 'warn'; }
    if (!health.length) health.push(badge('healthy', 'ok'));
    const br = host.breaker || '';
    if (breakerTone(br) === 'bad') rowTone = 'down';
    const failPct = host.requests ? 100 * host.failures / host.requests : null;
    return h('tr', { class: rowTone, data: { upstream: up.name, host: host.address } },
      h('td', null, h('code', null, host.address)),
      h('td', { class: 'health' }, ...health),
      h('td', null, br ? badge(br, breakerTone(br), 'breaker') : h('span', { class: 'muted' }, '—')),
      h('td', { class: 'r' }, fmtInt.format(host.active || 0)),
      h('td', { class: 'r' }, fmtInt.format(host.requests || 0)),
      h('td', { class: 'r' }, failPct === null ? '–' : fmtPct(failPct)),
      h('td', { class: 'r' }, fmtMs((host.latency_ewma_ns || 0) / 1e6)),
      h('td', { class: 'r' }, fmtInt.format(host.ejections || 0)));
  }

  function renderUpstreams(st) {
    const box = document.getElementById('upstreams');
    const ups = st.upstreams || [];
    if (!ups.length) {
      box.replaceChildren(h('p', { class: 'empty' }, 'No upstreams configured.'));
      return;
    }
    const now = state.serverTime || Date.now();
    box.replaceChildren(...ups.map((up) => {
      const hosts = up.hosts || [];
      const avail = hosts.filter((x) => x.healthy && !x.ejected && !x.drained && breakerTone(x.breaker) !== 'bad').length;
      return h('div', { class: 'upstream', data: { upstream: up.name } },
        h('div', { class: 'upstream-head' },
          h('h3', null, up.name),
          h('span', { class: 'muted' }, up.balancer || ''),
          badge(avail + '/' + hosts.length + ' available', avail === hosts.length ? 'ok' : avail === 0 ? 'bad' : 'warn'),
          up.panic ? badge('panic mode', 'bad', 'panic') : null),
        h('div', { class: 'table-wrap' }, h('table', { class: 'hosts' },
          h('thead', null, h('tr', null,
            h('th', null, 'Host'), h('th', null, 'Health'), h('th', null, 'Breaker'),
            h('th', { class: 'r' }, 'Active'), h('th', { class: 'r' }, 'Requests'), h('th', { class: 'r' }, 'Failures'),
            h('th', { class: 'r' }, 'Latency'), h('th', { class: 'r', title: 'ejections since the host joined' }, 'Ejections'))),
          h('tbody', null, ...hosts.map((x) => hostRow(up, x, now))))));
    }));
  }

  function gauge(label, used, max, extra) {
    const frac = max > 0 ? Math.min(1, used / max) : 0;
    const bar = h('div', { class: 'bar' + (frac >= 0.9 ? ' bad' : frac >= 0.7 ? ' warn' : '') }, h('span'));
    bar.firstChild.style.width = (100 * frac).toFixed(1) + '%';
    return h('div', { class: 'gauge' },
      h('div', { class: 'gauge-head' }, h('span', null, label),
        h('span', { class: 'num' }, fmtInt.format(used) + ' / ' + fmtInt.format(max) + (extra ? ' · ' + extra : ''))),
      bar);
  }

  function renderCapacity(st) {
    const rows = [];
    for (const r of st.routes || []) {
      if (r.bulkhead) {
        rows.push(gauge('route ' + r.name + ' bulkhead', r.bulkhead.in_flight, r.bulkhead.max,
          r.bulkhead.queued ? r.bulkhead.queued + ' queued' : ''));
      }
    }
    const a = st.admission;
    if (a && a.shed_capacity) rows.push(gauge('admission shedder', a.shed_in_flight || 0, a.shed_capacity));
    if (a && a.limit) {
      rows.push(gauge('adaptive limit', a.limit_in_flight || 0, a.limit, a.limit_queued ? a.limit_queued + ' queued' : ''));
    }
    const caches = (st.routes || []).filter((r) => r.cache);
    if (caches.length) {
      rows.push(h('p', { class: 'note' }, 'Stale-if-error cache: ' +
        caches.map((r) => r.name + ' ' + fmtInt.format(r.cache.entries) + (r.cache.entries === 1 ? ' entry' : ' entries')).join(', ')));
    }
    document.getElementById('capacity').replaceChildren(...(rows.length ? rows :
      [h('p', { class: 'empty' }, 'No bulkheads, shedder or adaptive limit configured.')]));
  }

  function renderFlags(st) {
    const fl = st.flags || [];
    const box = document.getElementById('flags');
    if (!fl.length) {
      box.replaceChildren(h('p', { class: 'empty' }, 'No flags configured.'));
      return;
    }
    box.replaceChildren(h('ul', { class: 'flags' }, ...fl.map((f) => {
      const pct = f.percent && f.percent < 1 ? ' ' + fmt1.format(f.percent * 100) + '%' : '';
      return h('li', { data: { flag: f.name } },
        h('span', null, h('code', null, f.name), f.description ? h('div', { class: 'desc' }, f.description) : null),
        badge(f.enabled ? 'on' + pct : 'off', f.enabled ? (pct ? 'warn' : 'ok') : 'bad'));
    })));
  }

  let lastStatusJSON = '';

  function renderStatus(st) {
    renderHeader(st);
    const js = JSON.stringify([st.upstreams, st.routes, st.admission, st.flags]);
    if (js === lastStatusJSON) return;
    lastStatusJSON = js;
    renderUpstreams(st);
    renderCapacity(st);
    renderFlags(st);
  }

  // ---- timeline ----

  function eventItem(e, fresh) {
    const where = [e.upstream, e.host].filter(Boolean).join(' · ');
    return h('li', { class: fresh ? 'fresh' : null, data: { seq: e.seq, kind: e.kind } },
      h('time', { datetime: e.time, title: e.time }, fmtClock(new Date(e.t * 1000))),
      badge(e.kind, tone(e.kind), 'kind'),
      h('span', { class: 'where' }, where),
      e.detail ? h('span', { class: 'detail' }, e.detail) : null);
  }

  function addEvent(raw, fresh) {
    if (state.seen.has(raw.seq)) return false;
    state.seen.add(raw.seq);
    const e = Object.assign({}, raw, { t: Date.parse(raw.time) / 1000 });
    state.events.push(e);
    if (state.events.length > MAX_EVENTS) state.seen.delete(state.events.shift().seq);
    const list = document.getElementById('timeline');
    list.prepend(eventItem(e, fresh));
    while (list.children.length > MAX_EVENTS) list.lastChild.remove();
    document.getElementById('timeline-empty').hidden = true;
    document.getElementById('timeline-count').textContent = state.events.length + (state.events.length === 1 ? ' event' : ' events');
    probe.events = state.events.length;
    return true;
  }

  function reset() {
    state.points = [];
    state.events = [];
    state.seen.clear();
    document.getElementById('timeline').replaceChildren();
    document.getElementById('timeline-empty').hidden = false;
    lastStatusJSON = '';
  }

  // ---- the feed ----

  const conn = document.getElementById('conn');

  function setConn(text, cls) {
    conn.textContent = text;
    conn.className = 'pill ' + cls;
  }

  function onTick(tick) {
    if (tick.first) {
      if (tick.history_ms) state.historySec = tick.history_ms / 1000;
      // A gateway that restarted numbers its events from 1 again.
      if (state.started && tick.status.started !== state.started) reset();
      state.started = tick.status.started;
    }
    state.serverTime = Date.parse(tick.time);
    if (!state.firstTick) state.firstTick = Date.now();
    state.lastTick = Date.now();
    if (probe.connected) setConn('live', 'pill-live');
    state.status = tick.status;
    upsert(tick.points || []);
    redrawCharts(true);
    renderKpis();
    renderStatus(tick.status);
    probe.snapshots++;
  }

  function connect() {
    const es = new EventSource('api/stream');
    es.addEventListener('open', () => {
      probe.connected = true;
      setConn('live', 'pill-live');
    });
    es.addEventListener('error', () => {
      probe.connected = false;
      if (es.readyState === EventSource.CLOSED) {
        // The browser gives up after an answer other than 200 (a 503 when
        // the gateway has too many streams or is shutting down): try again.
        setConn('disconnected', 'pill-down');
        es.close();
        setTimeout(connect, 5000);
        return;
      }
      setConn('reconnecting…', 'pill-wait');
    });
    es.addEventListener('snapshot', (m) => onTick(JSON.parse(m.data)));
    es.addEventListener('timeline', (m) => {
      // Events that arrive with the first tick are history, not news.
      const fresh = state.firstTick > 0 && Date.now() - state.firstTick > 1000;
      if (addEvent(JSON.parse(m.data), fresh)) redrawCharts(false);
    });
  }

  // A stream that stopped delivering ticks (a sleeping laptop, a proxy that
  // buffers) shows as stale rather than live.
  setInterval(() => {
    if (probe.connected && state.lastTick && Date.now() - state.lastTick > 5000) setConn('stale', 'pill-wait');
  }, 1000);

  setupCharts();
  connect();
})();
