//go:build !race

package keelgrpc_test

const raceEnabled = false
