package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/timesync/timesync/service/control"
)

// "timesync status" shows the time server's counters when it serves, and
// nothing of the kind when it does not.
func TestPrintStatusServerCounters(t *testing.T) {
	st := &control.Status{State: "synchronized", Stratum: 2, Server: &control.ServerStatus{
		Listen: []string{"0.0.0.0:123", "[::]:123"}, Answered: 1234, DroppedByRule: 5, RateLimited: 7, KoDSent: 2, Malformed: 3, Refused: 1,
	}}
	var b bytes.Buffer
	printStatus(&b, st, time.Unix(0, 0))
	for _, want := range []string{"0.0.0.0:123, [::]:123", "1234 answered, 5 dropped by rule, 7 rate-limited (2 KoD sent), 3 malformed, 1 refused"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
	st.Server = nil
	b.Reset()
	printStatus(&b, st, time.Unix(0, 0))
	if strings.Contains(b.String(), "Serving") {
		t.Errorf("not serving, yet:\n%s", b.String())
	}
}
