package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// serviceRatePPM is how fast the service boot's test server runs: the
// service must end with the guest clock that much faster than free running.
const serviceRatePPM = 50

// servicePlan boots the guest to run `timesync service run` (not dry-run)
// for d against a server whose clock runs serviceRatePPM fast; the guest
// check starts the guest clock 100 ms behind it and measures on its own.
func servicePlan(d time.Duration) plan {
	rate := strconv.Itoa(serviceRatePPM)
	return plan{
		name:       "service",
		checks:     []string{"service"},
		params:     map[string]string{"service_rate_ppm": rate, "service_duration": d.String()},
		serverArgs: []string{"-rate-ppm", rate},
		timeout:    d + 2*time.Minute, // boot, settle, the run, shutdown
	}
}

// printServiceLines prints, for each service check that reported, the line
// CI and the README quote: "service: converged … after N s; final offset …".
func printServiceLines(w io.Writer, outs []outcome) {
	for _, o := range outs {
		if o.check == "service" && o.result != nil {
			verdict := "ok"
			if !o.ok {
				verdict = "FAILED"
			}
			fmt.Fprintf(w, "service: %s (%s)\n", strings.TrimSpace(o.result.Summary), verdict)
		}
	}
}
