//go:build !linux

package e2e

import "os/exec"

func setParentDeathSignal(*exec.Cmd) {}

func startSpawner() (stop func()) { return func() {} }

func startCmd(cmd *exec.Cmd) error { return cmd.Start() }
