package service

import _ "unsafe" // go:linkname

// kardianosSystemdFuncs is the function map kardianos/service renders
// systemd units with on Linux (cmd, cmdEscape).
//
//go:linkname kardianosSystemdFuncs github.com/kardianos/service.tfs
var kardianosSystemdFuncs map[string]func(string) (string, error)
