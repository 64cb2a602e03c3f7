package main

import (
	"os"
	"strings"
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

// An add with nothing to add is a usage error that says what to give,
// before any service is asked (none listens on the socket given).
func TestAddWithoutArgument(t *testing.T) {
	sock := t.TempDir() + "/none.sock"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"servers", "add"}, "usage: timesync servers add [pool] ADDRESS[:PORT]"},
		{[]string{"servers", "add", "pool"}, "usage: timesync servers add [pool] ADDRESS[:PORT]"},
		{[]string{"restrict", "add"}, "usage: timesync restrict add default|ADDRESS[/BITS]"},
	} {
		var out, errb strings.Builder
		code := run(append(c.args, "--socket", sock), &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", c.args, code, errb.String(), exitUsage, c.want)
		}
	}
}
