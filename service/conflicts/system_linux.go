package conflicts

// System returns the detector for this machine: the process table in
// /proc. (systemd's own unit state would need D-Bus or systemctl; the
// process table answers the same question without either, and the
// service's unit keeps /proc readable: no ProtectProc=invisible.)
func System() Detector {
	return Detector{Processes: ProcFS{Root: "/proc"}.Processes, GOOS: "linux"}
}
