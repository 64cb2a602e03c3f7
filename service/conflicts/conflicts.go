// Package conflicts finds other time services running on this machine
// (systemd-timesyncd, chronyd, ntpd, OpenNTPD, w32time, macOS's timed):
// two programs steering one clock fight each other, so the service warns
// in its log and its status when it sees one. It only looks: it reads the
// process table (Linux /proc, macOS sysctl kern.proc) or asks the Windows
// service control manager, and never stops or changes anything.
package conflicts

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Conflict is another time service found running.
type Conflict struct {
	// Name is the other service's short name: "chronyd", "ntpd",
	// "systemd-timesyncd", "openntpd", "w32time" or "timed".
	Name string `json:"name"`
	// PID is its process ID, 0 when it is known as a service only.
	PID int `json:"pid,omitempty"`
	// Line says in words what was found and what to do about it.
	Line string `json:"line"`
}

// Process is one entry of the process table.
type Process struct {
	PID  int
	Comm string   // the kernel's short name (Linux comm: at most 15 bytes)
	Args []string // command line, if readable
}

// Detector finds conflicts; its fields are the seams to the OS.
type Detector struct {
	// Processes lists the running processes; nil lists none.
	Processes func(ctx context.Context) ([]Process, error)
	// ServiceRunning reports whether the OS service named name is running
	// (Windows: the service control manager); nil knows no services.
	ServiceRunning func(ctx context.Context, name string) (bool, error)
	// Self is this process's PID, never reported; 0 means os.Getpid().
	Self int
	// GOOS selects the advice in the lines ("linux", "darwin", "windows").
	GOOS string
}

// Detect returns the other time services running on this machine, using
// this OS's process table and service manager. Errors reading them are
// not conflicts and are dropped: an unreadable process table is no reason
// to warn.
func Detect(ctx context.Context) []Conflict {
	cs, _ := System().Detect(ctx)
	return cs
}

// Detect returns the conflicts found, and the first error met while
// looking (the conflicts found despite it are still returned).
func (d Detector) Detect(ctx context.Context) ([]Conflict, error) {
	self := d.Self
	if self == 0 {
		self = os.Getpid()
	}
	var out []Conflict
	var firstErr error
	if d.Processes != nil {
		procs, err := d.Processes(ctx)
		if err != nil {
			firstErr = fmt.Errorf("listing processes: %w", err)
		}
		for _, p := range procs {
			if p.PID == self {
				continue
			}
			if k, ok := matchProcess(p); ok {
				out = append(out, Conflict{Name: k.name, PID: p.PID,
					Line: fmt.Sprintf("%s (pid %d) is running: %s", k.what, p.PID, k.advice(d.GOOS))})
			}
		}
	}
	if d.ServiceRunning != nil {
		for _, k := range knownServices {
			if k.service == "" {
				continue
			}
			running, err := d.ServiceRunning(ctx, k.service)
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("querying service %s: %w", k.service, err)
				}
				continue
			}
			if running && !slices.ContainsFunc(out, func(c Conflict) bool { return c.Name == k.name }) {
				out = append(out, Conflict{Name: k.name,
					Line: fmt.Sprintf("%s is running: %s", k.what, k.advice(d.GOOS))})
			}
		}
	}
	return out, firstErr
}

// known is one other time service.
type known struct {
	name    string   // Conflict.Name
	comms   []string // process names (Linux comm is cut to 15 bytes)
	service string   // Windows service name, "" if none
	what    string   // how a line names it
	stop    map[string]string
}

const fight = "another program steering the same clock fights timesync's corrections"

func (k known) advice(goos string) string {
	how := k.stop[goos]
	if how == "" {
		how = k.stop[""]
	}
	return fight + "; " + how
}

var knownServices = []known{
	{name: "systemd-timesyncd", comms: []string{"systemd-timesyn", "systemd-timesyncd"},
		what: "systemd-timesyncd",
		stop: map[string]string{"": "stop it: systemctl disable --now systemd-timesyncd"}},
	{name: "chronyd", comms: []string{"chronyd"}, what: "chronyd",
		stop: map[string]string{"": "stop it: systemctl disable --now chronyd (or chrony)",
			"darwin": "stop it: sudo launchctl bootout system/org.tuxfamily.chronyd"}},
	{name: "ntpd", comms: []string{"ntpd"}, what: "ntpd (ntp, NTPsec or OpenNTPD)",
		stop: map[string]string{"": "stop it: systemctl disable --now ntp ntpsec openntpd (whichever is installed)",
			"darwin": "stop it: sudo launchctl bootout system/org.ntp.ntpd"}},
	{name: "openntpd", comms: []string{"openntpd"}, what: "OpenNTPD",
		stop: map[string]string{"": "stop it: systemctl disable --now openntpd"}},
	{name: "timed", comms: []string{"timed"}, what: "macOS's timed",
		stop: map[string]string{"": `turn off "Set time and date automatically" in System Settings → General → Date & Time`}},
	{name: "w32time", service: "W32Time", what: "the Windows Time service (W32Time)",
		stop: map[string]string{"": "stop and disable it: sc.exe stop w32time && sc.exe config w32time start= disabled"}},
}

// matchProcess reports which known service p is. A chronyd started with
// -x never touches the clock (as the project's benchmarks run it) and is
// no conflict.
func matchProcess(p Process) (known, bool) {
	for _, k := range knownServices {
		if !slices.Contains(k.comms, p.Comm) {
			continue
		}
		if k.name == "chronyd" && hasFlag(p.Args, 'x') {
			return known{}, false
		}
		return k, true
	}
	return known{}, false
}

// hasFlag reports whether args (argv[1:] after argv[0]) hold the
// single-letter option c, alone or in a group such as -dx.
func hasFlag(args []string, c byte) bool {
	for i, a := range args {
		if i == 0 {
			continue
		}
		if a == "--" {
			return false
		}
		if len(a) >= 2 && a[0] == '-' && a[1] != '-' && strings.IndexByte(a[1:], c) >= 0 {
			return true
		}
	}
	return false
}
