//go:build !linux && !windows

package control

const osSocketPath = "/var/run/timesync/control.sock"
