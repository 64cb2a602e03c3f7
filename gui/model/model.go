// Package model is what the tray and the windows say about the service,
// as pure functions of a control.Status (or of the error that kept us
// from getting one): the state the icon shows, the status line, the
// tooltip, the advice for a reason. It has no widgets, so the tray
// process (fyne.io/systray only) and the window process share it. All
// text goes through fyne's lang package (English and Japanese).
package model

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/timesync/timesync/service/control"
)

// Kind is what the tray icon shows.
type Kind int

// The four kinds, each with its own icon shape.
const (
	Unreachable    Kind = iota // no answer from the service
	Unsynchronized             // the service runs, the clock is not synchronized
	Syncing                    // a correction is under way, or sources are few
	Synchronized
)

// String returns the icon name of k (assets.TrayIcon's state).
func (k Kind) String() string {
	switch k {
	case Synchronized:
		return "synchronized"
	case Syncing:
		return "syncing"
	case Unsynchronized:
		return "unsynchronized"
	}
	return "unreachable"
}

// Label returns k in words for people.
func (k Kind) Label() string {
	switch k {
	case Synchronized:
		return langL("Synchronized")
	case Syncing:
		return langL("Synchronizing")
	case Unsynchronized:
		return langL("Not synchronized")
	}
	return langL("Service not reachable")
}

// Classify returns the kind for a status; st is ignored when err is not
// nil (the service could not be asked).
func Classify(st *control.Status, err error) Kind {
	if err != nil || st == nil {
		return Unreachable
	}
	switch st.State {
	case "synchronized":
		// Synchronized but with sources gone bad: degraded.
		if reachable(st) < len(st.Sources) && reachable(st) < 2 {
			return Syncing
		}
		return Synchronized
	case "syncing":
		return Syncing
	}
	return Unsynchronized
}

func reachable(st *control.Status) int {
	n := 0
	for _, s := range st.Sources {
		if s.State == "selected" || s.State == "candidate" {
			n++
		}
	}
	return n
}

// FormatOffset writes an offset in seconds with a sign and a unit
// suited to its size: "+0.4 ms", "-12.3 µs", "+2.501 s".
func FormatOffset(sec float64) string {
	sign := "+"
	if sec < 0 {
		sign = "-"
	}
	return sign + FormatDuration(math.Abs(sec))
}

// FormatDuration writes a non-negative duration in seconds: "0.4 ms",
// "12.3 µs", "2.501 s", "3601.5 s" (an offset is read in seconds at any
// size).
func FormatDuration(sec float64) string {
	a := math.Abs(sec)
	switch {
	case a == 0:
		return "0 s"
	case a < 1e-3:
		return fmt.Sprintf("%.1f µs", sec*1e6)
	case a < 1:
		return fmt.Sprintf("%.1f ms", sec*1e3)
	case a < 1000:
		return fmt.Sprintf("%.3f s", sec)
	}
	return fmt.Sprintf("%.1f s", sec)
}

// FormatPPM writes a frequency in parts per million.
func FormatPPM(ppm float64) string { return fmt.Sprintf("%+.3f ppm", ppm) }

// Reference names the reference for people: the source's configured
// name when it has one, with its address; "" when none.
func Reference(st *control.Status) string {
	if st == nil || st.Reference == "" {
		return ""
	}
	for _, s := range st.Sources {
		if s.Address == st.Reference && s.Name != "" {
			return s.Name
		}
	}
	return st.Reference
}

// referenceStratum is the selected source's stratum (ours − 1).
func referenceStratum(st *control.Status) int {
	for _, s := range st.Sources {
		if s.Address == st.Reference {
			return s.Stratum
		}
	}
	return st.Stratum - 1
}

// StatusLine is the first line of the tray menu and of the status
// window: "Synchronized · +0.4 ms · time.example (stratum 2)".
func StatusLine(st *control.Status, err error) string {
	k := Classify(st, err)
	if k == Unreachable {
		return k.Label()
	}
	parts := []string{k.Label()}
	if st.LastSync != nil || st.Updates > 0 {
		parts = append(parts, FormatOffset(st.OffsetSeconds))
	}
	if ref := Reference(st); ref != "" {
		parts = append(parts, langL("{{.Ref}} (stratum {{.Stratum}})", map[string]any{"Ref": ref, "Stratum": referenceStratum(st)}))
	} else if r := ReasonText(st); r != "" && k != Synchronized {
		parts = append(parts, r)
	}
	return strings.Join(parts, " · ")
}

// Tooltip is the tray icon's title and tooltip: the status line, and
// the reason when the clock is not synchronized.
func Tooltip(st *control.Status, err error) (title, body string) {
	title = "timesync: " + Classify(st, err).Label()
	switch k := Classify(st, err); k {
	case Unreachable:
		body = langL("The timesync service does not answer. Is it running?")
	case Synchronized:
		body = langL("Offset {{.Offset}} from {{.Ref}}", map[string]any{"Offset": FormatOffset(st.OffsetSeconds), "Ref": Reference(st)})
	default:
		body = ReasonText(st)
		if st.Reference != "" {
			body += "\n" + langL("Offset {{.Offset}} from {{.Ref}}", map[string]any{"Offset": FormatOffset(st.OffsetSeconds), "Ref": Reference(st)})
		}
	}
	return title, body
}

// ReasonText says why the clock is not synchronized, in the user's
// language when the code is known, else in the service's words.
func ReasonText(st *control.Status) string {
	if st == nil {
		return ""
	}
	switch st.ReasonCode {
	case control.ReasonStarting:
		return langL("Waiting for the first answers from the time servers.")
	case control.ReasonNoServers:
		return langL("No time server is configured.")
	case control.ReasonUnresolved:
		return langL("None of the configured server names could be resolved.")
	case control.ReasonNoReply:
		return langL("No time server answers.")
	case control.ReasonRejected:
		return langL("Every answering server was rejected as unusable.")
	case control.ReasonKissOfDeath:
		return langL("Every answering server refused us (kiss-o'-death).")
	case control.ReasonNoMajority:
		return langL("Too few servers agree on the time.")
	case control.ReasonPanic:
		return langL("The clock is off by more than the panic threshold; the correction waits for you.")
	case control.ReasonConflict:
		return langL("Another time service is running.")
	case control.ReasonSyncing:
		return langL("A correction is under way.")
	case control.ReasonErrorBound:
		return langL("Too long since the last good measurement.")
	}
	return st.Reason
}

// Advice says what to try for a reason; "" when there is nothing to do
// but wait.
func Advice(st *control.Status) string {
	if st == nil {
		return langL("Start the service: timesync service start (as administrator).")
	}
	switch st.ReasonCode {
	case control.ReasonNoServers:
		return langL("Add a server or pool in Settings → Servers.")
	case control.ReasonUnresolved:
		return langL("Check the network connection and the server names; try a server by its IP address.")
	case control.ReasonNoReply:
		return langL("Check the network connection; a firewall may block UDP port 123. Use Test in Settings → Servers.")
	case control.ReasonRejected, control.ReasonKissOfDeath:
		return langL("Try other servers in Settings → Servers.")
	case control.ReasonNoMajority:
		return langL("Add more servers (four or more) so that a majority can agree.")
	case control.ReasonPanic:
		return langL("If the time shown by the servers is right, press \"Set the clock now\".")
	case control.ReasonConflict:
		return langL("Stop the other time service (see the warnings below), then Sync now.")
	case control.ReasonErrorBound:
		return langL("Press Sync now; check the network if this stays.")
	}
	return ""
}

// Ago writes how long ago t was, relative to now: "12 s ago".
func Ago(t, now time.Time) string {
	d := now.Sub(t).Seconds()
	if d < 0 {
		d = 0
	}
	return langL("{{.D}} ago", map[string]any{"D": FormatAge(d)})
}

// FormatAge writes an age in whole units: "12 s", "5 min", "3 h", "2 d".
func FormatAge(sec float64) string {
	switch {
	case sec < 120:
		return fmt.Sprintf("%.0f s", sec)
	case sec < 7200:
		return fmt.Sprintf("%.0f min", sec/60)
	case sec < 2*86400:
		return fmt.Sprintf("%.0f h", sec/3600)
	}
	return fmt.Sprintf("%.0f d", sec/86400)
}

// NextPoll estimates the next poll as the shortest of the sources'
// poll intervals less the time since their last sample; ok is false
// when nothing is polled.
func NextPoll(st *control.Status) (sec float64, ok bool) {
	best := math.Inf(1)
	for _, s := range st.Sources {
		if s.PollSeconds <= 0 {
			continue
		}
		left := s.PollSeconds
		if s.LastSampleSeconds != nil {
			left -= *s.LastSampleSeconds
		}
		best = math.Min(best, math.Max(left, 0))
	}
	return best, !math.IsInf(best, 1)
}

// Tally is chronyc's one-character mark of a source state: * selected,
// + candidate, x falseticker, ? unreachable, K kiss-o'-death, - invalid.
func Tally(state string) string {
	switch state {
	case "selected":
		return "*"
	case "candidate":
		return "+"
	case "falseticker":
		return "x"
	case "unreachable":
		return "?"
	case "kod":
		return "K"
	}
	return "-"
}
