package main

// On Windows the service runs in one process (see the README: a service
// SID holding only SeSystemtimePrivilege is the plan there).

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
)

const privsepSupported = false

type privsepOptions struct {
	configPath, socketPath string
	dryRun, verbose        bool
	user                   string
	logger                 *slog.Logger
	// text is the parent's code on huge pages, for the engine to map
	// too (nil if it is not).
	text *os.File
}

type privsepParent struct{}

func newPrivsepParent(privsepOptions) (*privsepParent, error) {
	return nil, errors.New("privilege separation is for Linux and macOS")
}

func (*privsepParent) Start() error               { return nil }
func (*privsepParent) Stop(context.Context) error { return nil }
func runServiceEngine([]string, io.Writer) error  { return errors.New("no separate engine on Windows") }
