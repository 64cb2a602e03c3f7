package gui

import "strings"

// fieldOf tells which form field a validation error of the service (a
// 400 or 409 answer) concerns, from the words the configuration's
// validator uses; "" when none in particular.
func fieldOf(msg string) string {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "greater than maxpoll"), strings.Contains(m, "minpoll"):
		return "minpoll"
	case strings.Contains(m, "maxpoll"):
		return "maxpoll"
	case strings.Contains(m, "maxsources"):
		return "maxsources"
	case strings.Contains(m, "tinker: panic"), strings.Contains(m, "panic"):
		return "panic"
	case strings.Contains(m, "tinker"), strings.Contains(m, "step"):
		return "step"
	case strings.Contains(m, "listen"):
		return "listen"
	case strings.Contains(m, "restrict"):
		return "target"
	case strings.Contains(m, "server"), strings.Contains(m, "pool"), strings.Contains(m, "address"),
		strings.Contains(m, "host name"), strings.Contains(m, "port"), strings.Contains(m, "already configured"):
		return "address"
	}
	return ""
}
