// Package cache keeps the last good HTTP response of each request and serves
// it when the origin fails: stale-if-error (RFC 5861) for Keel's clients and
// the gateway, in the manner of nginx's proxy_cache_use_stale.
//
// A [Cache] plugs into net/http in two places: [Cache.Transport] wraps an
// http.RoundTripper (the main seam, used by the gateway and by clients), and
// [Cache.Middleware] wraps an http.Handler. Both follow the same rules.
//
// # Which requests
//
// A request is cacheable when its method is in Config.Methods (GET and HEAD by
// default; a HEAD is answered from the GET entry of the same URL) and it does
// not say Cache-Control: no-store. A request with an Authorization header
// bypasses the cache (never stored, never answered from it), unless
// Config.Vary lists Authorization: then the credential is part of the key, as
// a SHA-256, so one caller is never served another's response. The key is the
// method, scheme, host, escaped path, the query with its parameters sorted,
// and the values of the Config.Vary headers.
//
// # Serving
//
// With Config.ServeFresh, a fresh entry (stored less than Config.TTL ago)
// answers the request without calling the origin, marked "Keel-Cache: hit"
// with an Age header; a request with Cache-Control: no-cache skips this step.
// Without ServeFresh (the default) every request goes to the origin and the
// cache is only a safety net.
//
// When the origin fails, with an error (connection refused, timeout, an open
// breaker, a bulkhead or rate-limit rejection: any error) or with a status
// listed in Config.StaleStatuses (500, 502, 503, 504 by default), and an entry
// stored less than TTL + Config.MaxStale ago exists, the failed response is
// closed and the entry is served instead, marked "Keel-Cache: stale",
// "Age: <seconds>" and `Warning: 110 - "Response is Stale"`. The one failure
// that is not covered is the caller's own cancellation (its request context
// canceled): nobody waits for the answer. A request whose context deadline
// passed is still answered from the cache.
//
// # Storing
//
// A 200 response to a GET is stored once its body has been read to the end
// (Transport) or the handler has returned (Middleware), unless it carries
// Cache-Control no-store or private, a Set-Cookie header, a Vary header that
// names "*" or a header not in Config.Vary, or a body longer than
// Config.MaxBodyBytes. A body closed before its end is not stored. Other
// statuses are never stored: a cached 404 or redirect would outlive the fix
// of the mistake that caused it. The origin's freshness headers (max-age,
// Expires) are not consulted; Config.TTL decides. Entries are evicted least
// recently used beyond Config.MaxEntries or Config.MaxBytes of bodies.
//
// # Concurrency and cost
//
// A Cache is safe for concurrent use. One mutex guards an LRU list and a map;
// it is held only to look up, store or evict, never while calling the
// origin, an observer or reading a body. A stored entry is immutable: each
// served response gets its own header clone and a reader over the shared
// body.
//
// # Events
//
// With a Config.Observer, a fresh hit emits keel.EventReplayed and a stale
// serve emits keel.EventFallback, both with Policy "cache", Duration the
// entry's age, and for a stale serve Err the origin's error or a
// *[StatusError] naming its status. [Cache.Stats] counts the same and more.
package cache
