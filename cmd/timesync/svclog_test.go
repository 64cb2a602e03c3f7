package main

import (
	"fmt"
	"log/slog"
	"testing"
)

// recLogger records what reaches the OS service log.
type recLogger struct{ lines []string }

func (r *recLogger) Error(v ...interface{}) error {
	r.lines = append(r.lines, "E "+fmt.Sprint(v...))
	return nil
}
func (r *recLogger) Warning(v ...interface{}) error {
	r.lines = append(r.lines, "W "+fmt.Sprint(v...))
	return nil
}
func (r *recLogger) Info(v ...interface{}) error {
	r.lines = append(r.lines, "I "+fmt.Sprint(v...))
	return nil
}
func (r *recLogger) Errorf(f string, a ...interface{}) error {
	return r.Error(fmt.Sprintf(f, a...))
}
func (r *recLogger) Warningf(f string, a ...interface{}) error {
	return r.Warning(fmt.Sprintf(f, a...))
}
func (r *recLogger) Infof(f string, a ...interface{}) error { return r.Info(fmt.Sprintf(f, a...)) }

func TestSvcLogHandler(t *testing.T) {
	rec := &recLogger{}
	log := slog.New(newSvcLogHandler(rec, slog.LevelInfo)).With("driver", "windows")
	log.Debug("not shown")
	log.Info("timesync service started", "mode", "disciplining the clock")
	log.Warn("clock stepped by +2.500000 s")
	log.WithGroup("src").Error("query failed", "server", "192.0.2.1:123")
	want := []string{
		"I timesync service started driver=windows mode=disciplining the clock",
		"W clock stepped by +2.500000 s driver=windows",
		"E query failed driver=windows src.server=192.0.2.1:123",
	}
	if fmt.Sprint(rec.lines) != fmt.Sprint(want) {
		t.Errorf("got\n%q\nwant\n%q", rec.lines, want)
	}
}
