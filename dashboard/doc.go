// Package dashboard is Keel's live web dashboard: an http.Handler that serves
// one page and the JSON and server-sent-events feed behind it.
//
// The page shows, second by second, the gateway's throughput, success and
// error rates and p50/p95/p99 latency; every upstream host with its health,
// ejection and breaker state; route bulkheads and the admission shedder and
// limiter; and a timeline of events (host ejections, breaker transitions,
// reloads, flag changes, replica kills and fault windows).
//
// Everything the page needs is embedded in the binary (package embed): it
// loads no script, style or font from another host, so it works offline. The
// charts are drawn by uPlot (MIT), vendored under assets/vendor/uplot.
//
// The data come from a [Source], which *gateway.Gateway implements. The
// gateway mounts the dashboard at "/" of its admin listener:
//
//	d, err := dashboard.New(gw, dashboard.Config{})
//	if err != nil { … }
//	gw.HandleAdmin("GET /", d)
//
// and `keel gateway` serves it at http://127.0.0.1:9901/.
//
// # Routes
//
//	GET /               the page
//	GET /assets/...     embedded scripts, styles and uPlot, with ETag and Cache-Control
//	GET /api/snapshot   JSON: status, the series of the last Config.History, recent events
//	GET /api/stream     server-sent events: "snapshot" every Config.Interval with the
//	                    status and the new points, "timeline" for each gateway event
//
// A stream ends when its client goes away or [Dashboard.Shutdown] is called;
// it runs on the request's goroutine and starts none of its own. At most
// Config.MaxStreams streams are open at once; more are refused with 503.
//
// The dashboard holds no business logic: it reads the source and formats
// what it reads.
package dashboard
