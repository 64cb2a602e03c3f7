package service

import (
	_ "unsafe" // go:linkname

	_ "github.com/kardianos/service"
)

// renderKardianos is kardianos/service's own template engine (template.go,
// the same on every OS), so that the tests render the unit and the plist
// exactly as "service install" does, on any OS.
//
//go:linkname renderKardianos github.com/kardianos/service.renderTemplate
func renderKardianos(text string, data map[string]any, funcs map[string]func(string) (string, error)) (string, error)
