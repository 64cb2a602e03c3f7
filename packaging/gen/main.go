//go:build linux

// Command gen writes the files the packages ship that the code defines:
// the systemd unit and the launchd plist exactly as "timesync service
// install" writes them (service.RenderSystemdUnit, RenderLaunchdPlist) for
// the packaged paths, the default configuration (config.Default), and the
// tray's LaunchAgent as the tray itself writes it (gui.LaunchAgent).
// make dist runs it: go run ./packaging/gen -o dist/gen (on Linux: the
// unit renders with kardianos's Linux-only functions).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/timesync/timesync/gui"
	"github.com/timesync/timesync/service"
	"github.com/timesync/timesync/service/config"
)

// Where the packages put things.
const (
	linuxBinary  = "/usr/bin/timesync"
	darwinBinary = "/usr/local/bin/timesync"
	darwinTray   = "/Applications/timesync.app/Contents/MacOS/timesync-gui"
	configPath   = "/etc/timesync/timesync.conf" // config.DefaultPath() on Linux and macOS
)

func main() {
	out := flag.String("o", "dist/gen", "output directory")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	unit, err := service.RenderSystemdUnit(service.SystemOptions{Executable: linuxBinary, ConfigPath: configPath})
	if err != nil {
		return err
	}
	plist, err := service.RenderLaunchdPlist(service.SystemOptions{Executable: darwinBinary, ConfigPath: configPath})
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"linux/timesync.service":             []byte(unit),
		"linux/timesync.conf":                config.Default().Format(),
		"darwin/org.timesync.timesync.plist": []byte(plist),
		// A system-wide LaunchAgent (/Library/LaunchAgents) in the form the
		// tray's own start-at-login switch writes per user.
		"darwin/org.timesync.gui.plist": gui.LaunchAgent("", darwinTray).Content,
	}
	for name, b := range files {
		p := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
