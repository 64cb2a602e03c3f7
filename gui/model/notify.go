package model

import (
	"math"
	"time"

	"github.com/timesync/timesync/service/control"
)

// WallNow is the notifier's clock in production.
var WallNow = time.Now

// Notification is one desktop notification.
type Notification struct {
	Kind        string // "step", "lost", "source"
	Title, Body string
}

// Notifier decides which changes deserve a desktop notification — a
// step of the clock, the loss of synchronization, a source gone bad —
// and keeps them rare: at most one of each kind per KindGap, and at most
// MaxPerHour of all kinds in any hour.
type Notifier struct {
	KindGap    time.Duration
	MaxPerHour int

	have    bool
	synced  bool
	lastSyn *time.Time
	states  map[string]string // source address → state
	sent    map[string]time.Time
	recent  []time.Time
}

// NewNotifier returns a notifier with 10 min between notifications of a
// kind and 4 an hour at most.
func NewNotifier() *Notifier {
	return &Notifier{KindGap: 10 * time.Minute, MaxPerHour: 4, states: map[string]string{}, sent: map[string]time.Time{}}
}

// StepThresholdSeconds is the size of a correction reported as a step.
const StepThresholdSeconds = 0.128

// Observe compares st with what was seen before and returns the
// notifications to show now (already rate-limited).
func (n *Notifier) Observe(st *control.Status, err error, now time.Time) []Notification {
	var out []Notification
	if err != nil || st == nil {
		return nil // the tray icon says the service is gone; no pop-up for that
	}
	synced := st.State == "synchronized"
	if n.have {
		if n.synced && !synced {
			out = append(out, Notification{"lost", L("Clock no longer synchronized"), ReasonText(st)})
		}
		if st.LastSync != nil && (n.lastSyn == nil || !st.LastSync.Equal(*n.lastSyn)) && math.Abs(st.OffsetSeconds) >= StepThresholdSeconds {
			out = append(out, Notification{"step", L("Clock stepped"), L("The clock was set by {{.Offset}}.", map[string]any{"Offset": FormatOffset(st.OffsetSeconds)})})
		}
		for _, s := range st.Sources {
			was, ok := n.states[s.Address]
			if ok && (was == "selected" || was == "candidate") && (s.State == "falseticker" || s.State == "kod" || s.State == "unreachable" || s.State == "invalid") {
				name := s.Address
				if s.Name != "" {
					name = s.Name
				}
				body := s.Reason
				if body == "" {
					body = s.State
				}
				out = append(out, Notification{"source", L("Time server {{.Name}} is no longer usable", map[string]any{"Name": name}), body})
			}
		}
	}
	n.have, n.synced = true, synced
	if st.LastSync != nil {
		t := *st.LastSync
		n.lastSyn = &t
	}
	clear(n.states)
	for _, s := range st.Sources {
		n.states[s.Address] = s.State
	}
	return n.limit(out, now)
}

func (n *Notifier) limit(in []Notification, now time.Time) []Notification {
	var out []Notification
	keep := n.recent[:0]
	for _, t := range n.recent {
		if now.Sub(t) < time.Hour {
			keep = append(keep, t)
		}
	}
	n.recent = keep
	for _, x := range in {
		if t, ok := n.sent[x.Kind]; ok && now.Sub(t) < n.KindGap {
			continue
		}
		if len(n.recent) >= n.MaxPerHour {
			break
		}
		n.sent[x.Kind] = now
		n.recent = append(n.recent, now)
		out = append(out, x)
	}
	return out
}

// L is lang.L with the translations loaded.
func L(s string, data ...any) string { return langL(s, data...) }
