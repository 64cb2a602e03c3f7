package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/timesync/timesync/test/vm/vmtest"
)

// outcome is the verdict on one expected check of one boot.
type outcome struct {
	boot   string
	check  string
	ok     bool
	line   string // summary with the figure, or why it failed
	result *vmtest.Result
}

// judge matches what a boot reported against what its plan expected: every
// expected check (the implicit "net" first) needs exactly one passing
// result; missing, duplicate, unexpected or failed results are failures, and
// so is a boot that did not end with the guest's DONE line.
func judge(p plan, r bootResult, bootErr error, logPath string) []outcome {
	want := append([]string{"net"}, p.checks...)
	seen := map[string][]vmtest.Result{}
	for _, res := range r.results {
		seen[res.Check] = append(seen[res.Check], res)
	}
	var out []outcome
	for _, c := range want {
		o := outcome{boot: p.name, check: c}
		switch rs := seen[c]; {
		case len(rs) == 0:
			why := "no result from the guest"
			if bootErr != nil {
				why += ": " + bootErr.Error()
			} else if !r.done {
				why += " (guest did not finish)"
			}
			o.line = why + " — see " + logPath
		case len(rs) > 1:
			o.line = fmt.Sprintf("%d results for one check", len(rs))
		default:
			res := rs[0]
			o.result = &res
			o.ok = res.OK
			o.line = res.Summary
			if !res.OK {
				o.line += " — " + res.Error
			}
		}
		out = append(out, o)
		delete(seen, c)
	}
	extra := make([]string, 0, len(seen))
	for c := range seen {
		extra = append(extra, c)
	}
	sort.Strings(extra)
	for _, c := range extra {
		out = append(out, outcome{boot: p.name, check: c, line: "unexpected result for a check that was not asked for"})
	}
	for _, e := range r.parseErrors {
		out = append(out, outcome{boot: p.name, check: "console", line: e})
	}
	if bootErr != nil || !r.done {
		why := "guest did not print " + vmtest.DonePrefix
		if bootErr != nil {
			why = bootErr.Error()
		}
		out = append(out, outcome{boot: p.name, check: "boot", line: why + " — see " + logPath})
	}
	return out
}

// allOK reports whether every outcome passed.
func allOK(os []outcome) bool {
	for _, o := range os {
		if !o.ok {
			return false
		}
	}
	return true
}

// printSummary prints one line per outcome and returns the counts.
func printSummary(w io.Writer, os []outcome) (passed, failed int) {
	width := 0
	for _, o := range os {
		width = max(width, len(o.boot)+1+len(o.check))
	}
	for _, o := range os {
		verdict := "PASS"
		if o.ok {
			passed++
		} else {
			verdict = "FAIL"
			failed++
		}
		name := o.boot + "/" + o.check
		fmt.Fprintf(w, "%s %-*s  %s\n", verdict, width, name, strings.TrimSpace(o.line))
	}
	return passed, failed
}
