package main

import (
	"github.com/keelhq/keel/examples/internal/serve"
	"github.com/keelhq/keel/examples/payments/service"
)

func main() { serve.Main(service.Run) }
