package deadline

import (
	"context"
	"sync/atomic"
)

// selfKey is the Value key under which a Context returns itself.
type selfKey struct{}

// AfterCancel is context.AfterFunc for a caller that can enforce ctx's
// deadline by itself (a net.Conn deadline, say): it arranges for f to run,
// in its own goroutine, when ctx is canceled. stop is as AfterFunc's: it
// reports whether it kept f from running. When own is true, f does not run
// when ctx merely reaches its deadline: enforcing it is the caller's job.
//
// The point is a Context's laziness. context.AfterFunc asks for Done, and a
// Context's first Done makes a timer and a standard context. When ctx's
// cancellation comes from a Context that has not made them (there is no
// cancelable context between the two, only values), AfterCancel watches that
// Context's Cancel and its parent's cancellation instead: nothing is made but
// the registration, and own is true. Otherwise it is context.AfterFunc(ctx,
// f), which also runs f at the deadline, and own is false.
func AfterCancel(ctx context.Context, f func()) (stop func() bool, own bool) {
	c := lazy(ctx)
	if c == nil {
		return context.AfterFunc(ctx, f), false
	}
	// One watcher on every lazy Context of the chain (a per-try Context
	// under a total one, say), and context.AfterFunc above them: the
	// parent's deadline is not earlier than the child's, so it too is the
	// caller's to enforce.
	w := &watcher{f: f}
	var top context.Context
	for {
		if !c.watch(w) { // made its Done, or ended, meanwhile
			top = c
			break
		}
		w.add(c)
		top = c.parent
		if c = lazy(top); c == nil {
			break
		}
	}
	w.parentStop = context.AfterFunc(top, w.fire)
	return w.stop, true
}

// lazy returns the Context whose cancellation is ctx's, when it is still
// lazy; else nil. A cancelable context derived from a Context asks for its
// Done on creation, so a lazy Context found by Value has only value
// contexts above it, or contexts that have no deadline of their own: the
// deadlines must match.
func lazy(ctx context.Context) *Context {
	c, _ := ctx.Value(selfKey{}).(*Context)
	if c == nil || c.done.Load() != nil || c.ended.Load() {
		return nil
	}
	if d, ok := ctx.Deadline(); !ok || !d.Equal(c.deadline) {
		return nil
	}
	return c
}

// watch adds w to the watchers that Cancel fires; false when c has made its
// inner context or ended.
func (c *Context) watch(w *watcher) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inner != nil || c.err != nil {
		return false
	}
	if c.watcher == nil {
		c.watcher = w
	} else {
		c.watchers = append(c.watchers, w)
	}
	return true
}

func (c *Context) unwatch(w *watcher) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.watcher == w {
		c.watcher = nil
		return
	}
	for i, x := range c.watchers {
		if x == w {
			last := len(c.watchers) - 1
			c.watchers[i] = c.watchers[last]
			c.watchers[last] = nil
			c.watchers = c.watchers[:last]
			return
		}
	}
}

// watcher is one AfterCancel registration on lazy Contexts.
type watcher struct {
	f          func()
	state      atomic.Int32 // armed, fired or stopped
	on         [2]*Context  // the lazy Contexts it watches, innermost first,
	more       []*Context   // and beyond two
	parentStop func() bool  // context.AfterFunc above them
}

func (w *watcher) add(c *Context) {
	for i := range w.on {
		if w.on[i] == nil {
			w.on[i] = c
			return
		}
	}
	w.more = append(w.more, c)
}

const (
	armed int32 = iota
	fired
	stopped
)

func (w *watcher) fire() {
	if w.state.CompareAndSwap(armed, fired) {
		go w.f()
	}
}

func (w *watcher) stop() bool {
	if !w.state.CompareAndSwap(armed, stopped) {
		return false
	}
	for _, c := range w.on {
		if c != nil {
			c.unwatch(w)
		}
	}
	for _, c := range w.more {
		c.unwatch(w)
	}
	w.parentStop()
	return true
}
