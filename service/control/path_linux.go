package control

const osSocketPath = "/run/timesync/control.sock"
