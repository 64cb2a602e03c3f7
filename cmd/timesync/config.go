package main

import (
	"fmt"
	"io"

	"github.com/timesync/timesync/service/config"
)

// runConfig implements "timesync config check [FILE]" and
// "timesync config import FILE".
func runConfig(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("config needs a subcommand: check [FILE] or import FILE")
	}
	switch args[0] {
	case "check":
		path := config.DefaultPath()
		if len(args) > 2 {
			return usagef("config check takes at most one file")
		}
		if len(args) == 2 {
			path = args[1]
		}
		cfg, err := config.Load(path)
		if err != nil {
			return usageError{err}
		}
		for _, w := range cfg.Warnings() {
			fmt.Fprintf(stderr, "%s: warning: %s\n", path, w)
		}
		fmt.Fprintf(stdout, "%s: OK (%d servers, %d pools, %d restrict rules)\n", path, len(cfg.Servers), len(cfg.Pools), len(cfg.Restrict))
		return nil
	case "import":
		if len(args) != 2 {
			return usagef("usage: timesync config import FILE")
		}
		cfg, skipped, err := config.ImportFile(args[1])
		if err != nil {
			return usageError{err}
		}
		for _, s := range skipped {
			fmt.Fprintln(stderr, s.String())
		}
		_, err = stdout.Write(cfg.Format())
		return err
	default:
		return usagef("unknown config subcommand %q: use check or import", args[0])
	}
}
