package serve

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// ErrUsage marks a command line that does not parse; [ExitCode] maps it
// to 2.
var ErrUsage = errors.New("usage")

// Flags are the flags every example service has.
type Flags struct {
	Addr         string        // -addr: host:port to listen on
	Name         string        // -name: the replica's name
	DrainDelay   time.Duration // -drain-delay
	DrainTimeout time.Duration // -drain-timeout
	AccessLog    bool          // -access-log
}

// Register defines -addr (default 127.0.0.1:0), -name (default
// defaultName, described by nameUsage), -drain-delay (0), -drain-timeout
// (10s) and -access-log on fs, stored in f.
func (f *Flags) Register(fs *flag.FlagSet, defaultName, nameUsage string) {
	fs.StringVar(&f.Addr, "addr", "127.0.0.1:0", "`host:port` to listen on")
	fs.StringVar(&f.Name, "name", defaultName, nameUsage)
	fs.DurationVar(&f.DrainDelay, "drain-delay", 0, "after SIGTERM, keep accepting requests (with /healthz 503) this long before closing the listener")
	fs.DurationVar(&f.DrainTimeout, "drain-timeout", 10*time.Second, "longest wait at shutdown for requests in flight")
	fs.BoolVar(&f.AccessLog, "access-log", false, "log every request to standard error")
}

// Parse parses args into fs, which takes no positional arguments. It
// returns flag.ErrHelp after -h, and an error matching [ErrUsage], with
// fs's name in front, for a command line that does not parse.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%s: %w: %w", fs.Name(), ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: %w: unexpected argument %q", fs.Name(), ErrUsage, fs.Arg(0))
	}
	return nil
}

// ExitCode returns the process exit code for an error of a service's Run:
// 0 for nil (and for -h), 2 for a command line that does not parse, 1
// otherwise.
func ExitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	default:
		return 1
	}
}

// Main is the main function of a service command: it calls run with the
// command-line arguments and the standard output and error, under a
// context that ends at the first SIGTERM or interrupt (a second one kills
// the process the default way), and exits with ExitCode of its error.
func Main(run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	context.AfterFunc(ctx, stop)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		os.Exit(ExitCode(err))
	}
}
