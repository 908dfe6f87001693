package quantile_test

import (
	"fmt"
	"time"

	"github.com/keelhq/keel/internal/quantile"
)

func ExampleOf() {
	sorted := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond, 400 * time.Millisecond}
	fmt.Println(quantile.Of(sorted, 0.50), quantile.Of(sorted, 0.99))
	// Output: 20ms 400ms
}
