package deadline

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Context is a context.Context with a deadline. Create one with [New] and call
// [Context.Cancel] when the work it guards is done.
//
// The zero Context is not usable. A Context is safe for concurrent use.
type Context struct {
	parent   context.Context
	deadline time.Time

	// done holds the Done channel once it exists (a chan struct{}).
	done atomic.Value
	// ended is stored after err and fromParent are set, once; readers that
	// see it true read those two without the lock.
	ended atomic.Bool

	mu         sync.Mutex
	fromParent bool   // err came from the parent; written once under mu
	err        error  // written once under mu
	armed      *armed // guarded by mu; set with done while live, cleared by the end
}

// armed is what Done creates; it is kept apart so that a Context nobody waits
// on stays small.
type armed struct {
	timer      *time.Timer
	stopParent func() bool // registration with the parent, if it can end
	afterFuncs []*afterFunc
}

type afterFunc struct{ f func() }

// New returns a Context that ends when parent ends, when d passes or when
// Cancel is called, whichever comes first. If parent's deadline is earlier than
// d, the Context takes parent's deadline. parent must not be nil.
//
// New allocates the Context and nothing else.
func New(parent context.Context, d time.Time) *Context {
	if pd, ok := parent.Deadline(); ok && pd.Before(d) {
		d = pd
	}
	return &Context{parent: parent, deadline: d}
}

// Deadline returns the Context's deadline; ok is always true.
func (c *Context) Deadline() (deadline time.Time, ok bool) { return c.deadline, true }

// Value returns parent's value for key.
func (c *Context) Value(key any) any {
	if key == cancelCtxKey && cancelCtxKey != nil && c.ended.Load() {
		// context.Cause looks up the nearest cancelCtx through this key. If
		// the Context ended on its own (deadline or Cancel), the parent's
		// cancellation cause, if any, came later and is not ours: report
		// none, so that Cause returns our Err.
		if !c.fromParent {
			return nil
		}
	}
	return c.parent.Value(key)
}

// Err returns nil while the Context is live. Afterwards it returns the parent's
// error if the parent ended first, context.DeadlineExceeded if the deadline
// passed first, or context.Canceled if Cancel was called first. Once non-nil it
// never changes.
func (c *Context) Err() error {
	if c.ended.Load() {
		return c.loadErr()
	}
	if err := c.parent.Err(); err != nil {
		c.end(err, true)
		return c.loadErr()
	}
	if !time.Now().Before(c.deadline) {
		c.end(context.DeadlineExceeded, false)
		return c.loadErr()
	}
	return nil
}

// loadErr returns err; call it only after ended was seen true.
func (c *Context) loadErr() error { return c.err }

// Done returns a channel that is closed when the Context ends. The first call
// creates the channel, arms a timer for the deadline and registers with the
// parent; Cancel releases both.
func (c *Context) Done() <-chan struct{} {
	if d, ok := c.done.Load().(chan struct{}); ok {
		return d
	}
	return c.initDone()
}

func (c *Context) initDone() chan struct{} {
	c.mu.Lock()
	if d, ok := c.done.Load().(chan struct{}); ok {
		c.mu.Unlock()
		return d
	}
	if c.err != nil {
		c.done.Store(closedchan)
		c.mu.Unlock()
		return closedchan
	}
	d := make(chan struct{})
	c.done.Store(d)
	c.armed = &armed{}
	c.mu.Unlock()

	// The parent's Done and AfterFunc are foreign code: call them without
	// holding c.mu, then check whether the Context ended meanwhile.
	if c.Err() != nil {
		return d // Err ended the Context and closed d.
	}
	var stop func() bool
	if c.parent.Done() != nil {
		stop = context.AfterFunc(c.parent, c.parentDone)
	}
	t := time.AfterFunc(time.Until(c.deadline), c.expire)

	c.mu.Lock()
	if c.err == nil {
		c.armed.timer, c.armed.stopParent = t, stop
		t, stop = nil, nil
	}
	c.mu.Unlock()
	if t != nil { // ended meanwhile: release what was just armed
		t.Stop()
		if stop != nil {
			stop()
		}
	}
	return d
}

func (c *Context) expire()     { c.end(context.DeadlineExceeded, false) }
func (c *Context) parentDone() { c.end(c.parent.Err(), true) }

// Cancel ends the Context with context.Canceled unless it has already ended,
// and releases its timer and its registration with the parent. It is cheap
// when Done was never called. Calling Cancel more than once is harmless.
func (c *Context) Cancel() { c.end(context.Canceled, false) }

// end records err as the Context's error unless it already has one, closes the
// Done channel and releases the timer and the parent registration. It calls
// nothing foreign while holding c.mu.
func (c *Context) end(err error, fromParent bool) {
	c.mu.Lock()
	if c.err == nil {
		c.err, c.fromParent = err, fromParent
		c.ended.Store(true)
		if d, ok := c.done.Load().(chan struct{}); ok && d != closedchan {
			close(d)
		}
	}
	a := c.armed
	c.armed = nil
	c.mu.Unlock()

	if a == nil {
		return
	}
	if a.timer != nil {
		a.timer.Stop()
	}
	if a.stopParent != nil {
		a.stopParent()
	}
	for _, f := range a.afterFuncs {
		go f.f()
	}
}

// AfterFunc arranges to call f in its own goroutine after the Context ends; if
// it has already ended, f is called at once, in its own goroutine. stop
// unregisters f and reports whether it did so before f was started.
//
// context.AfterFunc and context.WithCancel use this method when given a
// Context, so neither starts a goroutine to watch it.
func (c *Context) AfterFunc(f func()) (stop func() bool) {
	c.Done() // arm the timer and the parent registration
	a := &afterFunc{f: f}
	c.mu.Lock()
	if c.armed == nil { // ended
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	c.armed.afterFuncs = append(c.armed.afterFuncs, a)
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.armed == nil {
			return false
		}
		i := slices.Index(c.armed.afterFuncs, a)
		if i < 0 {
			return false
		}
		c.armed.afterFuncs = slices.Delete(c.armed.afterFuncs, i, i+1)
		return true
	}
}

// String describes the Context for debugging.
func (c *Context) String() string {
	return "deadline.Context(" + c.deadline.String() + ")"
}

// closedchan is the Done channel of a Context that ended before Done was first
// called.
var closedchan = make(chan struct{})

func init() { close(closedchan) }

// cancelCtxKey is the key with which context.Cause asks a context for its
// nearest cancelCtx. The context package does not export it, so it is learnt
// once, by asking Cause about a context that records the key it is asked
// for. If the context package ever stops asking, cancelCtxKey stays nil and
// Value simply delegates every key to the parent.
var cancelCtxKey = func() any {
	var s keySniffer
	_ = context.Cause(&s)
	return s.key
}()

type keySniffer struct {
	context.Context
	key any
}

func (*keySniffer) Err() error { return context.Canceled }

func (s *keySniffer) Value(key any) any {
	if s.key == nil {
		s.key = key
	}
	return nil
}
