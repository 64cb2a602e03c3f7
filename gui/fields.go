package gui

import (
	"strings"

	"github.com/timesync/timesync/service/control/client"
)

// errorField tells which form field a refusal of the service (a 400 or
// 409 answer) concerns: from the member of the request the service
// names in its error body ("field"), else — a service from before it
// named them — from the words of its message; "" when none in
// particular.
func errorField(err error) string {
	if f := client.FieldOf(err); f != "" {
		return formField(f)
	}
	return fieldOf(err.Error())
}

// formField maps a member of a request's JSON body, as the service names
// it ("servers[1].minpoll", "server.address", "tinker.panic_seconds",
// "addr" of a restrict rule), to the settings form's field.
func formField(member string) string {
	top, last := member, member
	if i := strings.IndexAny(member, ".["); i >= 0 {
		top = member[:i]
	}
	if i := strings.LastIndexByte(member, '.'); i >= 0 {
		last = member[i+1:]
	}
	switch top {
	case "servers", "server", "pools", "pool":
		switch last {
		case "minpoll", "maxpoll", "maxsources":
			return last
		}
		return "address" // address, name, port, or the entry itself (a duplicate)
	case "restrict", "addr":
		return "target"
	case "listen":
		return "listen"
	case "tinker":
		if last == "panic_seconds" {
			return "panic"
		}
		return "step"
	}
	return ""
}

// fieldOf tells which form field a validation error of the service
// concerns from the words the configuration's validator uses (services
// that do not name the field); "" when none in particular.
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
