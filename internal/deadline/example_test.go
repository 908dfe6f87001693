package deadline_test

import (
	"context"
	"fmt"
	"time"

	"github.com/keelhq/keel/internal/deadline"
)

func ExampleNew() {
	ctx := deadline.New(context.Background(), time.Now().Add(10*time.Millisecond))
	defer ctx.Cancel()

	fmt.Println(ctx.Err()) // no timer yet: Err compares the clock
	<-ctx.Done()           // the first Done arms a timer
	fmt.Println(ctx.Err())
	// Output:
	// <nil>
	// context deadline exceeded
}
