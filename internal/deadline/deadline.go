package deadline

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Context is a context.Context with a deadline. Create one with [New] and call
// [Context.Cancel] when the work it guards is done.
//
// Until Done is first called, a Context is a plain struct: Err compares the
// clock with the deadline and asks the parent. The first Done call derives a
// standard context.WithDeadline context from the parent (the inner context)
// and from then on Done, Err and Value are the inner context's, so that
// context.WithCancel, context.AfterFunc and context.Cause treat the Context
// exactly like a standard one, without watcher goroutines.
//
// The zero Context is not usable. A Context is safe for concurrent use.
type Context struct {
	parent   context.Context
	deadline time.Time

	// done holds the Done channel (a <-chan struct{}) once Done has been
	// called: the inner context's, or closedchan if the Context had ended
	// before.
	done atomic.Value
	// ended is stored once, after err and fromParent, when the Context ended
	// before it had an inner context. Readers that see it true read those
	// two without the lock.
	ended atomic.Bool

	mu         sync.Mutex
	fromParent bool               // err came from the parent; written once under mu
	err        error              // written once under mu
	inner      context.Context    // written once under mu, before done is stored
	stopInner  context.CancelFunc // guarded by mu; nil once called
	watcher    *watcher           // AfterCancel's first, guarded by mu
	watchers   []*watcher         // and the others, guarded by mu
}

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

// innerCtx returns the inner context, or nil if Done was not called or the
// Context had ended before it was.
func (c *Context) innerCtx() context.Context {
	if c.done.Load() == nil {
		return nil
	}
	return c.inner // written before done was stored, never changed after
}

// Value returns parent's value for key.
func (c *Context) Value(key any) any {
	if key == (selfKey{}) {
		return c
	}
	if in := c.innerCtx(); in != nil {
		return in.Value(key)
	}
	if key == cancelCtxKey && cancelCtxKey != nil && c.ended.Load() && !c.fromParent {
		// context.Cause looks up the nearest cancelCtx through this key.
		// The Context ended on its own (deadline or Cancel), so a
		// cancellation cause the parent may have now came later and is not
		// ours: report none, so that Cause returns our Err.
		return nil
	}
	return c.parent.Value(key)
}

// Err returns nil while the Context is live. Afterwards it returns the parent's
// error if the parent ended first, context.DeadlineExceeded if the deadline
// passed first, or context.Canceled if Cancel was called first. Once non-nil it
// never changes.
//
// Before Done is called, Err notices the deadline by reading the clock; after,
// it is the inner context's Err, which reports the deadline once the inner
// context's timer has fired.
func (c *Context) Err() error {
	if c.ended.Load() {
		return c.err
	}
	if in := c.innerCtx(); in != nil {
		return in.Err()
	}
	if err := c.parent.Err(); err != nil {
		c.end(err, true)
		return c.Err()
	}
	if !time.Now().Before(c.deadline) {
		c.end(context.DeadlineExceeded, false)
		return c.Err()
	}
	return nil
}

// Done returns a channel that is closed when the Context ends. The first call
// derives the inner context (a channel, a timer and a registration with the
// parent); Cancel releases them.
func (c *Context) Done() <-chan struct{} {
	if d, ok := c.done.Load().(<-chan struct{}); ok {
		return d
	}
	return c.initDone()
}

func (c *Context) initDone() <-chan struct{} {
	if c.Err() == nil {
		// Derive outside the lock: it calls the parent's methods.
		inner, stop := context.WithDeadline(c.parent, c.deadline)
		d := inner.Done()
		c.mu.Lock()
		if c.done.Load() == nil && c.err == nil {
			c.inner, c.stopInner = inner, stop
			c.done.Store(d)
			c.mu.Unlock()
			return d
		}
		c.mu.Unlock()
		stop() // another Done won, or the Context ended meanwhile
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.done.Load().(<-chan struct{}); ok {
		return d
	}
	// Ended before any inner context existed.
	c.done.Store(closedchan)
	return closedchan
}

// Cancel ends the Context with context.Canceled unless it has already ended,
// and releases the inner context's timer and parent registration if Done
// created them. It is cheap when Done was never called. Calling Cancel more
// than once is harmless.
func (c *Context) Cancel() {
	c.mu.Lock()
	w1, ws := c.watcher, c.watchers
	c.watcher, c.watchers = nil, nil
	if c.inner != nil {
		stop := c.stopInner
		c.stopInner = nil
		c.mu.Unlock()
		if stop != nil {
			stop()
		}
	} else {
		c.setErrLocked(context.Canceled, false)
		c.mu.Unlock()
	}
	if w1 != nil {
		w1.fire()
	}
	for _, w := range ws {
		w.fire()
	}
}

// end records that the parent or the deadline ended the Context, as noticed
// by Err. Once an inner context exists it is the authority and notices both
// itself, so end leaves it alone.
func (c *Context) end(err error, fromParent bool) {
	c.mu.Lock()
	if c.inner == nil {
		c.setErrLocked(err, fromParent)
	}
	c.mu.Unlock()
}

func (c *Context) setErrLocked(err error, fromParent bool) {
	if c.err == nil {
		c.err, c.fromParent = err, fromParent
		c.ended.Store(true)
	}
}

// String describes the Context for debugging.
func (c *Context) String() string {
	return "deadline.Context(" + c.deadline.String() + ")"
}

// closedchan is the Done channel of a Context that ended before Done was first
// called.
var closedchan = func() <-chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

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
