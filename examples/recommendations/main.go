package main

import (
	"github.com/keelhq/keel/examples/internal/serve"
	"github.com/keelhq/keel/examples/recommendations/service"
)

func main() { serve.Main(service.Run) }
