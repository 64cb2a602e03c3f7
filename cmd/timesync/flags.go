package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// newFlagSet returns a flag set that reports nothing itself: parse errors
// come back to run, which prints one line.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses args and turns the flag package's messages into ours:
// flags named with "--", and a pointer to 'timesync help'.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil {
		return nil
	}
	if errors.Is(err, flag.ErrHelp) {
		return errHelp
	}
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "flag provided but not defined: "):
		name := strings.TrimLeft(strings.TrimPrefix(msg, "flag provided but not defined: "), "-")
		msg = fmt.Sprintf("unknown flag --%s", name)
	case strings.HasPrefix(msg, "flag needs an argument: "):
		name := strings.TrimLeft(strings.TrimPrefix(msg, "flag needs an argument: "), "-")
		msg = fmt.Sprintf("--%s needs a value", name)
	case strings.HasPrefix(msg, "invalid value "):
		// invalid value "x" for flag -name: reason
		if i := strings.Index(msg, " for flag -"); i > 0 {
			rest := msg[i+len(" for flag -"):]
			name, reason, _ := strings.Cut(rest, ": ")
			msg = fmt.Sprintf("--%s %s: %s", name, msg[len("invalid value "):i], reason)
		}
	case strings.HasPrefix(msg, "invalid boolean value "):
		// invalid boolean value "x" for -name: parse error
		if i := strings.Index(msg, " for -"); i > 0 {
			name, _, _ := strings.Cut(msg[i+len(" for -"):], ":")
			msg = fmt.Sprintf("--%s takes no value (or =true / =false), not %s", name, msg[len("invalid boolean value "):i])
		}
	}
	return usagef("%s; see 'timesync help'", msg)
}

// durationValue is a time.Duration flag whose errors say what is wrong
// in the user's terms ("10" lacks a unit).
type durationValue struct{ d *time.Duration }

func (v durationValue) String() string {
	if v.d == nil {
		return ""
	}
	return v.d.String()
}

func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		if strings.Contains(err.Error(), "missing unit") {
			return fmt.Errorf("a duration needs a unit, e.g. %ss or %sms", s, s)
		}
		return errors.New("not a duration (examples: 5s, 500ms, 1m)")
	}
	*v.d = d
	return nil
}
