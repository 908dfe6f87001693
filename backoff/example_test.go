package backoff_test

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/keelhq/keel/backoff"
)

func ExampleNew() {
	s, err := backoff.New(backoff.Config{
		Initial: 100 * time.Millisecond,
		Max:     time.Second,
		Jitter:  backoff.JitterNone,
	})
	if err != nil {
		panic(err)
	}
	var prev time.Duration
	for n := range 6 {
		prev = s.Delay(n, prev, nil)
		fmt.Println(n, prev)
	}
	// Output:
	// 0 100ms
	// 1 200ms
	// 2 400ms
	// 3 800ms
	// 4 1s
	// 5 1s
}

func ExampleSchedule_Delay() {
	// A seeded source makes jittered delays reproducible.
	r := rand.New(rand.NewPCG(1, 2))
	s := backoff.Default() // 100ms, doubling, capped at 10s, full jitter
	var prev time.Duration
	for n := range 4 {
		prev = s.Delay(n, prev, r)
		lo, hi := time.Duration(0), 100*time.Millisecond<<n
		fmt.Printf("retry %d: within [%v, %v): %v\n", n, lo, hi, prev >= lo && prev < hi)
	}
	// Output:
	// retry 0: within [0s, 100ms): true
	// retry 1: within [0s, 200ms): true
	// retry 2: within [0s, 400ms): true
	// retry 3: within [0s, 800ms): true
}

func ExampleConstant() {
	s := backoff.Constant(250 * time.Millisecond)
	fmt.Println(s.Delay(0, 0, nil), s.Delay(7, 0, nil))
	// Output: 250ms 250ms
}

func ExampleParseJitter() {
	j, err := backoff.ParseJitter("decorrelated")
	fmt.Println(j, err)
	// Output: decorrelated <nil>
}
