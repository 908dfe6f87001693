// Package shed admits requests by criticality under load, so that when a
// service nears its capacity the least important work is refused first.
//
// Every request carries a [Criticality]: [Critical], [Default] or [Sheddable],
// set on its context with [WithCriticality] (or parsed from a header value with
// [ParseCriticality]). A [Shedder] counts the requests in flight and admits a
// request only while the count is below its class's threshold: by default
// sheddable requests while fewer than 50% of Config.Capacity are in flight,
// default ones below 80%, critical ones up to 100%. As load grows, sheddable
// requests are refused first, then default ones; critical ones keep the whole
// capacity.
//
// A refused request gets a [*RejectedError], which matches [ErrShed] and
// keel.ErrRejected and carries a retry hint (keel.RetryAfterError), so the HTTP
// adapter answers 503 with Retry-After.
//
// Use the two-step API on hot paths:
//
//	t, err := s.Admit(ctx)
//	if err != nil {
//		return err // 503 + Retry-After
//	}
//	defer t.Done()
//
// or the Shedder as a keel.Policy or keel.Executor. Admission never waits and
// allocates nothing.
package shed
