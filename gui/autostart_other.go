//go:build !windows

package gui

func runKeyAutostart(string) Autostart { return FileAutostart{} }
