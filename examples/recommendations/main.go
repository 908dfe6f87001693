package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/keelhq/keel/examples/recommendations/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	// After the first signal, a second one kills the process the default way.
	context.AfterFunc(ctx, stop)
	err := service.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		os.Exit(service.ExitCode(err))
	}
}
