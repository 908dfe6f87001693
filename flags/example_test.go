package flags_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/flags"
)

func ExampleNewSet() {
	set, err := flags.NewSet(
		flags.Flag{Name: "search.v2", Enabled: true, Description: "new search backend"},
		flags.Flag{Name: "recommendations", Enabled: false},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(set.Enabled("search.v2"), set.Enabled("recommendations"), set.Enabled("unknown"))
	// Output: true false false
}

// A seeded random source makes the share of a partial rollout reproducible.
func ExampleNew() {
	set := flags.MustNew(flags.Config{
		Rand:  rand.New(rand.NewPCG(1, 1)).Float64,
		Flags: []flags.Flag{{Name: "retry.hedging", Enabled: true, Percent: 0.25}},
	})
	on := 0
	for range 10_000 {
		if set.Enabled("retry.hedging") {
			on++
		}
	}
	fmt.Println(on > 2300 && on < 2700)
	// Output: true
}

// EnabledFor gives each user the same answer on every call.
func ExampleSet_EnabledFor() {
	set := flags.MustNew(flags.Config{Flags: []flags.Flag{{Name: "checkout.v2", Enabled: true, Percent: 0.5}}})
	first := set.EnabledFor("checkout.v2", "user-17")
	same := true
	for range 100 {
		same = same && set.EnabledFor("checkout.v2", "user-17") == first
	}
	fmt.Println("sticky:", same)
	// Output: sticky: true
}

// Set changes one flag at once for every reader; OnChange hears of it.
func ExampleSet_Set() {
	set, _ := flags.NewSet(flags.Flag{Name: "maintenance"})
	set.OnChange(func(f flags.Flag) { fmt.Printf("changed: %s enabled=%v\n", f.Name, f.Enabled) })
	_ = set.Set(flags.Flag{Name: "maintenance", Enabled: true})
	fmt.Println(set.Enabled("maintenance"))
	// Output:
	// changed: maintenance enabled=true
	// true
}

// Replace reloads the whole set, for example from a config file.
func ExampleSet_Replace() {
	set, _ := flags.NewSet(flags.Flag{Name: "a", Enabled: true}, flags.Flag{Name: "b", Enabled: true})
	err := set.Replace(flags.Flag{Name: "b"}, flags.Flag{Name: "c", Enabled: true, Percent: 0.1})
	fmt.Println(err)
	for _, f := range set.List() {
		fmt.Printf("%s enabled=%v percent=%v\n", f.Name, f.Enabled, f.Percent)
	}
	// Output:
	// <nil>
	// b enabled=false percent=0
	// c enabled=true percent=0.1
}

// A Gate is a kill switch in a chain of policies.
func ExampleSet_Gate() {
	set, _ := flags.NewSet(flags.Flag{Name: "payments", Enabled: true})
	p := keel.Chain(set.Gate("payments")) // then retry, breaker, … in real code
	charge := func(context.Context) error { fmt.Println("charged"); return nil }
	ctx := context.Background()
	fmt.Println(p.Do(ctx, charge))
	_ = set.Set(flags.Flag{Name: "payments", Enabled: false})
	err := p.Do(ctx, charge)
	fmt.Println(err, errors.Is(err, flags.ErrDisabled), errors.Is(err, keel.ErrRejected))
	// Output:
	// charged
	// <nil>
	// flags: payments is disabled true true
}

func ExampleSet_Get() {
	set, _ := flags.NewSet(flags.Flag{Name: "beta", Enabled: true, Percent: 0.05, Description: "beta UI"})
	f, ok := set.Get("beta")
	fmt.Printf("%+v %v\n", f, ok)
	// Output: {Name:beta Enabled:true Percent:0.05 Description:beta UI} true
}
