//go:build !linux

package netfault

import "errors"

var errNotLinux = errors.New("netfault: network namespaces exist only on Linux")

func checkOS() error { return errNotLinux }

func runIn(string, func() error) error { return errNotLinux }

func processExists(int) bool { return true }

func killProcess(int) {}

func enteringPIDs(string) []int { return nil }
