package shed_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/shed"
)

func Example() {
	s := shed.MustNew(shed.Config{Capacity: 4}) // sheddable below 2 in flight, default below 3
	ctx := context.Background()
	crit := shed.WithCriticality(ctx, shed.Critical)
	batch := shed.WithCriticality(ctx, shed.Sheddable)

	a, _ := s.Admit(crit)
	b, _ := s.Admit(crit)
	_, err := s.Admit(batch)
	after, _ := keel.RetryAfter(err)
	fmt.Println("sheddable at 2 in flight:", err)
	fmt.Println("rejected:", errors.Is(err, keel.ErrRejected), "retry after:", after)
	c, err := s.Admit(crit)
	fmt.Println("critical at 2 in flight:", err)
	fmt.Println("shed sheddable:", s.Shed(shed.Sheddable), "in flight:", s.InFlight())
	a.Done()
	b.Done()
	c.Done()
	// Output:
	// sheddable at 2 in flight: shed: request shed: sheddable requests admitted below 2 in flight, 2 in flight
	// rejected: true retry after: 1s
	// critical at 2 in flight: <nil>
	// shed sheddable: 1 in flight: 3
}

func ExampleShedder_Do() {
	s := shed.MustNew(shed.Config{Name: "api"})
	err := s.Do(shed.WithCriticality(context.Background(), shed.Default), func(context.Context) error {
		fmt.Println("running")
		return nil
	})
	fmt.Println(err, s.Admitted(shed.Default))
	// Output:
	// running
	// <nil> 1
}

func ExampleParseCriticality() {
	for _, h := range []string{"critical", "SHEDDABLE", "urgent"} {
		c, err := shed.ParseCriticality(h)
		fmt.Println(c, err)
	}
	// Output:
	// critical <nil>
	// sheddable <nil>
	// default shed: unknown criticality "urgent"
}
