package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	kservice "github.com/kardianos/service"
)

// svcLogHandler sends the service's log to the OS service manager's own
// log through kardianos/service: the Windows Event Log (the source that
// "service install" registers) when the service control manager runs
// us, where standard error goes nowhere. Each record becomes one entry:
// the message, then its attributes as key=value.
type svcLogHandler struct {
	l     kservice.Logger
	level slog.Leveler
	attrs []slog.Attr
	group string
}

func newSvcLogHandler(l kservice.Logger, level slog.Leveler) *svcLogHandler {
	return &svcLogHandler{l: l, level: level}
}

func (h *svcLogHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *svcLogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	for _, a := range h.attrs { // qualified when they were added
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value.Resolve())
	}
	r.Attrs(func(a slog.Attr) bool {
		if !a.Equal(slog.Attr{}) {
			fmt.Fprintf(&b, " %s=%v", h.qualify(a.Key), a.Value.Resolve())
		}
		return true
	})
	switch {
	case r.Level >= slog.LevelError:
		return h.l.Error(b.String())
	case r.Level >= slog.LevelWarn:
		return h.l.Warning(b.String())
	default:
		return h.l.Info(b.String())
	}
}

func (h *svcLogHandler) qualify(key string) string {
	if h.group == "" {
		return key
	}
	return h.group + "." + key
}

func (h *svcLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range as {
		if !a.Equal(slog.Attr{}) {
			n.attrs = append(n.attrs, slog.Attr{Key: h.qualify(a.Key), Value: a.Value})
		}
	}
	return &n
}

func (h *svcLogHandler) WithGroup(name string) slog.Handler {
	n := *h
	if n.group != "" {
		name = n.group + "." + name
	}
	n.group = name
	return &n
}
