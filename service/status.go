package service

// status.go: the status the control API serves, with the reason code and
// words that say why the clock is not synchronized.

import (
	"fmt"
	"strings"
	"time"

	"github.com/timesync/timesync/service/control"
	"github.com/timesync/timesync/service/engine"
	"github.com/timesync/timesync/service/loop"
)

// Status implements control.Backend.
func (d *Daemon) Status() control.Status {
	d.mu.Lock()
	lp := d.lp
	targets := d.targets
	unresolved := append([]string(nil), d.unresolved...)
	cs := append(d.conflicts[:0:0], d.conflicts...)
	last := make(map[string]sampleInfo, len(d.lastSample))
	for k, v := range d.lastSample {
		last[k] = v
	}
	d.mu.Unlock()
	d.cfgMu.Lock()
	configured := len(d.cfg.Servers) + len(d.cfg.Pools)
	d.cfgMu.Unlock()

	st := control.Status{State: string(loop.StateUnsynchronized), Stratum: int(engine.MaxStratum), DryRun: d.opt.DryRun, Sources: []control.Source{}}
	if d.opt.DryRun {
		if applied, ok := d.clk.AppliedAt(time.Now()); ok { // the time base of virtualNow
			st.DryRunCorrectionSeconds = &applied
		}
	}
	for _, c := range cs {
		st.Warnings = append(st.Warnings, c.Line)
	}
	if len(unresolved) > 0 {
		st.Warnings = append(st.Warnings, "names that do not resolve: "+strings.Join(unresolved, "; "))
	}
	var ls loop.Status
	if lp != nil {
		ls = lp.Status()
		st.State = string(ls.State)
		st.OffsetSeconds, st.OffsetErrorSeconds = ls.Offset.Seconds(), ls.OffsetSD.Seconds()
		st.FrequencyPPM, st.SkewPPM = ls.FrequencyPPM, ls.SkewPPM
		st.Reference, st.Stratum = ls.Reference, int(ls.Stratum)
		if !ls.LastSync.IsZero() {
			t := ls.LastSync.Round(0).UTC()
			st.LastSync = &t
		}
		st.RootDistanceSeconds = ls.RootDistance.Seconds()
		if ls.StepPending {
			p := ls.PendingStep.Seconds()
			st.PendingStepSeconds = &p
		}
		st.Updates = ls.Updates
		now := d.opt.Now()
		for _, s := range ls.Sources {
			src := control.Source{
				Address:       s.Address,
				Name:          targets[s.Address].name,
				State:         string(s.State),
				Reason:        s.Reason,
				OffsetSeconds: s.Offset.Seconds(),
				DelaySeconds:  s.Delay.Seconds(),
				JitterSeconds: s.Jitter.Seconds(),
				Stratum:       int(s.Stratum),
				PollSeconds:   s.Poll.Seconds(),
				Reach:         s.Reach,
				Samples:       s.Samples,
			}
			if li, ok := last[s.Address]; ok {
				age := max(now.Sub(li.at), 0).Seconds()
				src.LastSampleSeconds = &age
				src.LastOffsetSeconds, src.LastDelaySeconds = li.offset.Seconds(), li.delay.Seconds()
			}
			st.Sources = append(st.Sources, src)
		}
	} else {
		st.FrequencyPPM = d.clk.Frequency()
	}
	st.Server = d.serverStatus()
	st.ReasonCode, st.Reason = whyNot(st, ls, lp != nil, configured, unresolved, len(cs) > 0)
	return st
}

// whyNot says why the clock is not synchronized: a code and words. Both
// are empty when it is.
func whyNot(st control.Status, ls loop.Status, running bool, configured int, unresolved []string, conflict bool) (string, string) {
	if st.State == string(loop.StateSynchronized) {
		return "", ""
	}
	if ls.StepPending {
		return control.ReasonPanic, fmt.Sprintf("the clock is %+.3f s off, beyond the panic threshold; nothing is corrected until an administrator confirms with 'timesync sync --confirm'", ls.PendingStep.Seconds())
	}
	if conflict {
		return control.ReasonConflict, "another time service is active and may be steering the clock too; see the warnings"
	}
	if configured == 0 {
		return control.ReasonNoServers, "no time server is configured; add one with 'timesync servers add ADDRESS'"
	}
	if !running {
		if len(unresolved) > 0 {
			return control.ReasonUnresolved, "no configured name resolves (" + strings.Join(unresolved, "; ") + "); is DNS working? retrying"
		}
		return control.ReasonNoServers, "no time server could be used"
	}
	count := map[engine.State]int{}
	var rejected []string
	for _, s := range st.Sources {
		count[engine.State(s.State)]++
		if s.State == string(engine.StateInvalid) || s.State == string(engine.StateFalseticker) || s.State == string(engine.StateKoD) {
			rejected = append(rejected, s.Address+": "+s.Reason)
		}
	}
	n := len(st.Sources)
	unres := ""
	if len(unresolved) > 0 {
		unres = "; names that do not resolve: " + strings.Join(unresolved, "; ")
	}
	answered := false
	for _, s := range st.Sources {
		if s.LastSampleSeconds != nil || s.Reach != 0 || s.State != string(engine.StateUnreachable) || s.Reason != "no reply yet" {
			answered = true
		}
	}
	switch {
	case count[engine.StateSelected] == 0 && count[engine.StateCandidate] > 0 && (count[engine.StateFalseticker] > 0 || st.Updates == 0 || st.State != string(loop.StateSyncing)):
		return control.ReasonNoMajority, "holding: too few sources agree to make a majority" + candidateWhy(st.Sources) + strings.TrimSuffix("; "+strings.Join(rejected, "; "), "; ")
	case st.State == string(loop.StateSyncing):
		return control.ReasonSyncing, ls.Reason
	case n > 0 && !answered:
		return control.ReasonStarting, "waiting for the first replies" + unres
	case n > 0 && count[engine.StateUnreachable] == n:
		if refused := reasonsContain(st.Sources, "port unreachable"); refused {
			return control.ReasonNoReply, "no reply from any server (a refused port: is an NTP server running there?)" + unres
		}
		return control.ReasonNoReply, "no reply from any server (is UDP port 123 blocked by a firewall?)" + unres
	case n > 0 && count[engine.StateKoD] == n:
		return control.ReasonKissOfDeath, "every server sent a kiss-o'-death: " + strings.Join(rejected, "; ")
	case n > 0 && count[engine.StateInvalid]+count[engine.StateKoD]+count[engine.StateUnreachable] == n:
		return control.ReasonRejected, "every source was rejected: " + strings.Join(rejected, "; ") + unres
	case count[engine.StateFalseticker] > 0 || count[engine.StateSelected] == 0 && count[engine.StateCandidate] > 0:
		return control.ReasonNoMajority, "holding: too few sources agree to make a majority (" + ls.Reason + ")" + strings.TrimSuffix("; "+strings.Join(rejected, "; "), "; ")
	case strings.Contains(ls.Reason, "estimated error"):
		return control.ReasonErrorBound, ls.Reason
	}
	return control.ReasonUnsyncedMisc, ls.Reason + unres
}

// candidateWhy is the first reason given for a candidate not being
// used, in parentheses, or "".
func candidateWhy(srcs []control.Source) string {
	for _, s := range srcs {
		if s.State == string(engine.StateCandidate) && s.Reason != "" {
			return " (" + s.Reason + ")"
		}
	}
	return ""
}

// reasonsContain reports whether some source's reason contains s.
func reasonsContain(srcs []control.Source, s string) bool {
	for _, src := range srcs {
		if strings.Contains(src.Reason, s) {
			return true
		}
	}
	return false
}
