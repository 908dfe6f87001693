package boltstore_test
func crashServerMain() bool { return false }
