package quantile

import (
	"math"
	"time"
)

// Of returns the nearest-rank q-quantile of sorted (ascending), for
// 0 < q ≤ 1: the smallest value that at least a fraction q of the values
// are at or below. It returns 0 when sorted is empty. q*len(sorted) is
// rounded down when it is within 1e-9 of a whole number, so that 0.07 of
// 100 values is the 7th, not the 8th, despite floating point.
func Of(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q*float64(len(sorted)) - 1e-9))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}
