package keeltest_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/keeltest"
)

// A retry-like loop over an operation that fails twice and then succeeds.
func ExampleFailN() {
	errUnavailable := errors.New("unavailable")
	s := keeltest.FailN(2, errUnavailable)
	var rec keeltest.Recorder

	ctx := context.Background()
	for attempt := 1; attempt <= 5; attempt++ {
		err := s.Op(ctx)
		rec.Observe(ctx, keel.Event{Kind: keel.EventAttempt, Attempt: attempt, Err: err})
		fmt.Printf("attempt %d: %v\n", attempt, err)
		if err == nil {
			break
		}
	}
	fmt.Printf("calls: %d events: %v\n", s.Calls(), rec.Kinds())
	// Output:
	// attempt 1: unavailable
	// attempt 2: unavailable
	// attempt 3: <nil>
	// calls: 3 events: [attempt attempt attempt]
}

func ExampleNewScript() {
	s := keeltest.NewScript(
		keeltest.Fail(errors.New("refused")),
		keeltest.Fail(keel.Permanent(errors.New("bad request"))),
		keeltest.Succeed(),
	)
	for range 4 {
		err := s.Op(context.Background())
		fmt.Println(err, keel.IsPermanent(err))
	}
	// Output:
	// refused false
	// bad request true
	// <nil> false
	// <nil> false
}

func ExampleRecorder() {
	var rec keeltest.Recorder
	p := keel.Chain(keel.PolicyFunc(func(next keel.Handler) keel.Handler {
		return func(ctx context.Context, op func(context.Context) error) error {
			err := next(ctx, op)
			kind := keel.EventSuccess
			if err != nil {
				kind = keel.EventFailure
			}
			rec.Observe(ctx, keel.Event{Kind: kind, Err: err})
			return err
		}
	}))
	s := keeltest.FailN(1, errors.New("boom"))
	_ = p.Do(context.Background(), s.Op)
	_ = p.Do(context.Background(), s.Op)
	fmt.Printf("%v %d\n", rec.Kinds(), rec.Count(keel.EventFailure))
	// Output: [failure success] 1
}

// Go starts a call and lets the test look at it while it blocks. In a test,
// run this inside synctest.Test and call synctest.Wait before Done.
func ExampleGo() {
	ctx, cancel := context.WithCancel(context.Background())
	c := keeltest.Go(ctx, keel.Chain(), keeltest.NewScript(keeltest.Block()).Op)
	fmt.Println("done before cancel:", c.Done())
	cancel()
	fmt.Println("err:", c.Wait())
	// Output:
	// done before cancel: false
	// err: context canceled
}

// Timed measures a call. Inside a synctest bubble the duration is exact fake
// time; here it is real time, so the example only checks a lower bound.
func ExampleTimed() {
	s := keeltest.NewScript(keeltest.Sleep(10 * time.Millisecond))
	elapsed, err := keeltest.Timed(context.Background(), keel.Chain(), s.Op)
	fmt.Println(err, elapsed >= 10*time.Millisecond)
	// Output: <nil> true
}
