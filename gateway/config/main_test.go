package config

import (
	"flag"
	"testing"

	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite golden files and generated docs from the code")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
