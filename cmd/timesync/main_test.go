package main

import (
	"os"
	"testing"
)

// reexecEnv makes the test binary behave as the timesync command, so
// that end-to-end tests (servicerun_test.go) run it as a real process
// with the clock guard of guard_test.go in force.
const reexecEnv = "TIMESYNC_TEST_AS_COMMAND"

func TestMain(m *testing.M) {
	if os.Getenv(reexecEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
