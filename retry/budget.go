package retry

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Budget defaults, applied by [NewBudget] to zero fields of a [BudgetConfig].
const (
	DefaultBudgetRatio        = 0.2
	DefaultBudgetTTL          = 10 * time.Second
	DefaultBudgetMinPerSecond = 10
)

// BudgetConfig configures a [Budget]. The zero value is the default budget:
// retries may add 20% to the requests of the last 10 seconds, plus 10 retries
// per second whatever the traffic.
type BudgetConfig struct {
	// Ratio is how many retries each request earns: over any TTL window,
	// retries ≤ Ratio × requests + MinPerSecond × TTL in seconds. Zero means
	// 0.2; a negative value means requests earn nothing, so only the
	// MinPerSecond floor allows retries. It must be finite.
	Ratio float64
	// TTL is how long a request's credit lasts: the window over which
	// requests and retries are counted. Zero means 10s. It must be between
	// 0 and MaxBudgetTTL (a day). The window moves in steps of TTL/10.
	TTL time.Duration
	// MinPerSecond is the floor: this many retries per second are allowed
	// however few requests there were, so a quiet service can still retry.
	// Zero means 10; a negative value means no floor.
	MinPerSecond int
}

// Validate reports the first invalid field of c, or nil.
func (c BudgetConfig) Validate() error {
	switch {
	case math.IsNaN(c.Ratio) || math.IsInf(c.Ratio, 0):
		return fmt.Errorf("retry: BudgetConfig.Ratio is not finite (%v)", c.Ratio)
	case c.TTL < 0:
		return fmt.Errorf("retry: BudgetConfig.TTL is negative (%v)", c.TTL)
	case c.TTL > MaxBudgetTTL:
		return fmt.Errorf("retry: BudgetConfig.TTL %v is longer than MaxBudgetTTL (%v)", c.TTL, MaxBudgetTTL)
	}
	return nil
}

// MaxBudgetTTL is the longest budget window BudgetConfig accepts. Credit kept
// for longer than a day would let a burst of retries follow a long-gone peak.
const MaxBudgetTTL = 24 * time.Hour

// Number of time slices in a budget's window, and how often (in deposits) a
// deposit samples the clock.
const (
	budgetSlices = 10
	sampleMask   = 63
)

// Budget limits retries to a share of requests, like Finagle's RetryBudget:
// each request deposits one credit, each retry withdraws one, and over any
// TTL window
//
//	retries ≤ Ratio × requests + MinPerSecond × TTL (in seconds)
//
// so a failing dependency sees at most (1+Ratio) times its normal load, not
// MaxAttempts times. A Budget can be shared by several retry policies (for
// example all those calling one dependency) and is safe for concurrent use.
// The zero Budget is not usable; create one with [NewBudget].
//
// A deposit is one atomic add; it reads the clock only on every 64th deposit.
// Withdrawals take a mutex. The count errs on the side of fewer retries:
// deposits are counted from the oldest clock reading still inside the window
// (a withdrawal, or a sampled deposit), not from the window's start, and
// retries over the window rounded out to whole slices of TTL/10. So the bound
// holds exactly for the TTL before every granted retry: the retries in it,
// that one included, are at most Ratio × its requests + the floor.
type Budget struct {
	deposits atomic.Int64 // requests ever deposited
	_        [56]byte     // keep the hot counter on its own cache line

	origin  time.Time
	width   int64 // slice width, ns
	ttl     int64 // ns
	ratio   float64
	reserve float64 // MinPerSecond × TTL seconds

	mu        sync.Mutex
	snaps     [budgetSlices]snapshot // ring of deposit-counter readings
	newest    int                    // index of the newest snapshot
	withdrawn [budgetSlices + 1]slot // retries per slice, covering a whole TTL
}

// snapshot is the deposit counter read at time at (ns since origin).
type snapshot struct {
	at    int64
	total int64
	valid bool
}

// slot counts the retries withdrawn during one slice.
type slot struct {
	slice int64
	n     int64
}

// NewBudget returns a budget configured by cfg, or the error of cfg.Validate.
func NewBudget(cfg BudgetConfig) (*Budget, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ratio := cfg.Ratio
	switch {
	case ratio == 0:
		ratio = DefaultBudgetRatio
	case ratio < 0:
		ratio = 0
	}
	ttl := cfg.TTL
	if ttl == 0 {
		ttl = DefaultBudgetTTL
	}
	minPerSec := cfg.MinPerSecond
	switch {
	case minPerSec == 0:
		minPerSec = DefaultBudgetMinPerSecond
	case minPerSec < 0:
		minPerSec = 0
	}
	b := &Budget{
		origin:  time.Now(),
		width:   ceilDiv(int64(ttl), budgetSlices), // 10 slices ≥ TTL
		ttl:     int64(ttl),
		ratio:   ratio,
		reserve: float64(minPerSec) * ttl.Seconds(),
	}
	b.snaps[0] = snapshot{at: 0, valid: true}
	return b, nil
}

// MustNewBudget is like [NewBudget] but panics if cfg is invalid.
func MustNewBudget(cfg BudgetConfig) *Budget {
	b, err := NewBudget(cfg)
	if err != nil {
		panic(err)
	}
	return b
}

// Deposit records one request at the current time. Retry policies call it
// once per call, before the first attempt.
func (b *Budget) Deposit() {
	if b.deposits.Add(1)&sampleMask == 0 {
		b.sample(time.Now())
	}
}

// DepositAt records one request at time now. It is Deposit with the clock
// as an input, for deterministic tests and callers that already read it.
// Like Deposit, it looks at now only on every 64th deposit, to date the
// deposits so far; a deposit counts from the first clock reading after it
// (a sampled deposit, a withdrawal or Available).
func (b *Budget) DepositAt(now time.Time) {
	if b.deposits.Add(1)&sampleMask == 0 {
		b.sample(now)
	}
}

// TryWithdraw takes one retry from the budget at the current time and reports
// whether there was one to take.
func (b *Budget) TryWithdraw() bool { return b.TryWithdrawAt(time.Now()) }

// TryWithdrawAt takes one retry from the budget at time now and reports
// whether there was one to take: it succeeds while the retries of the window,
// this one included, stay within Ratio × requests + the floor.
func (b *Budget) TryWithdrawAt(now time.Time) bool {
	at := b.since(now)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.snapshotLocked(at)
	if float64(b.withdrawnLocked(at)+1) > b.allowanceLocked(at) {
		return false
	}
	cur := floorDiv(at, b.width)
	s := &b.withdrawn[floorMod(cur, budgetSlices+1)]
	if s.slice != cur {
		*s = slot{slice: cur}
	}
	s.n++
	return true
}

// Available reports how many retries TryWithdrawAt(now) would grant right
// now, if nothing else happened in between.
func (b *Budget) Available(now time.Time) int {
	at := b.since(now)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.snapshotLocked(at)
	n := math.Floor(b.allowanceLocked(at)+1e-9) - float64(b.withdrawnLocked(at))
	if n <= 0 {
		return 0
	}
	if n > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(n)
}

// since returns now as nanoseconds since the budget was made, using the
// monotonic clock when now has a reading of it.
func (b *Budget) since(now time.Time) int64 { return int64(now.Sub(b.origin)) }

// sample records a snapshot unless another goroutine holds the lock (then
// that one is reading the clock anyway).
func (b *Budget) sample(now time.Time) {
	at := b.since(now)
	if b.mu.TryLock() {
		b.snapshotLocked(at)
		b.mu.Unlock()
	}
}

// snapshotLocked records the deposit counter at time at, once per slice.
func (b *Budget) snapshotLocked(at int64) {
	n := b.snaps[b.newest]
	if n.valid && (at <= n.at || floorDiv(at, b.width) == floorDiv(n.at, b.width)) {
		return
	}
	b.newest = (b.newest + 1) % budgetSlices
	b.snaps[b.newest] = snapshot{at: at, total: b.deposits.Load(), valid: true}
}

// allowanceLocked returns Ratio × requests in the window + the floor. The
// requests counted are those since the oldest snapshot taken within the last
// TTL: every one of them happened inside the window.
func (b *Budget) allowanceLocked(at int64) float64 {
	from := int64(-1)
	oldest := int64(math.MaxInt64)
	for _, s := range b.snaps {
		if s.valid && s.at >= at-b.ttl && s.at < oldest {
			oldest, from = s.at, s.total
		}
	}
	var deposits int64
	if from >= 0 {
		deposits = b.deposits.Load() - from
	}
	return b.ratio*float64(deposits) + b.reserve
}

// withdrawnLocked returns the retries of the current slice and the ten
// before it: at least the whole TTL window, so no retry inside the window
// goes uncounted.
func (b *Budget) withdrawnLocked(at int64) int64 {
	cur := floorDiv(at, b.width)
	var n int64
	for _, s := range b.withdrawn {
		if age := cur - s.slice; age >= 0 && age <= budgetSlices {
			n += s.n
		}
	}
	return n
}

// ceilDiv returns ⌈a/b⌉ for a, b > 0 without overflowing.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 {
		q++
	}
	return q
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
