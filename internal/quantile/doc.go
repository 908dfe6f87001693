// Package quantile computes nearest-rank percentiles of latency samples: the
// one rule that the demo's verdict and the experiments' probes share.
package quantile
