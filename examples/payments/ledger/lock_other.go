//go:build !unix

package ledger

import (
	"errors"
	"os"
)

var errNoLock = errors.New("shared ledgers need flock(2), which this system does not have")

func tryLock(*os.File) (bool, error) { return false, errNoLock }

func unlockFile(*os.File) error { return errNoLock }
