package demo_test

import (
	"os"
	"time"

	"github.com/keelhq/keel/internal/demo"
)

// ExampleWriteTable prints two verdicts side by side, as keel demo
// -no-resilience does.
func ExampleWriteTable() {
	without := demo.Verdict{
		Charges: demo.APIResult{Requests: 2400, Succeeded: 2392, P50: 17 * time.Millisecond, P95: time.Second, P99: 3 * time.Second},
		Reads:   demo.APIResult{Requests: 3600, Succeeded: 3559, P50: 6 * time.Millisecond, P95: 360 * time.Millisecond, P99: 480 * time.Millisecond},
		Kills:   6, LedgerEntries: 2480, Duplicates: 80, ClientRetries: 549,
	}
	with := demo.Verdict{
		Resilient: true,
		Charges:   demo.APIResult{Requests: 2400, Succeeded: 2400, P50: 19 * time.Millisecond, P95: 40 * time.Millisecond, P99: 310 * time.Millisecond},
		Reads:     demo.APIResult{Requests: 3600, Succeeded: 3600, P50: 6 * time.Millisecond, P95: 40 * time.Millisecond, P99: 280 * time.Millisecond, Stale: 153, Fallback: 2},
		Kills:     6, LedgerEntries: 2400, GatewayRetries: 528, Hedges: 120, BreakerOpenings: 3, Ejections: 2, ClientRetries: 6,
	}
	_ = demo.WriteTable(os.Stdout, without, with)
	// Output:
	//                                 without Keel   with Keel
	//                  charges sent           2400        2400
	//             charges succeeded         99.67%        100%
	//                   latency p50          17 ms       19 ms
	//                   latency p95        1000 ms       40 ms
	//                   latency p99        3000 ms      310 ms
	//          recommendations sent           3600        3600
	//     recommendations succeeded         98.86%        100%
	//                   latency p50           6 ms        6 ms
	//                   latency p95         360 ms       40 ms
	//                   latency p99         480 ms      280 ms
	//         stale answers (cache)              0         153
	//              fallback answers              0           2
	//                client retries            549           6
	//               gateway retries              0         528
	//                        hedges              0         120
	//              breaker openings              0           3
	//                 hosts ejected              0           2
	//               replicas killed              6           6
	//         charges in the ledger           2480        2400
	//    duplicate charges (want 0)             80           0
	//         lost charges (want 0)              0           0
	//                       verdict           FAIL        PASS
}
