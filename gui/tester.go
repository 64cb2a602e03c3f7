package gui

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/beevik/ntp"
)

// TestResult is what one query of a time server found.
type TestResult struct {
	OffsetSeconds float64
	DelaySeconds  float64
	Stratum       int
	Reference     string
}

// Tester queries a time server from the GUI's own process (no privilege
// is needed to ask), for the Test button of Settings → Servers.
type Tester interface {
	Test(ctx context.Context, hostport string) (TestResult, error)
}

// NTPTester asks with beevik/ntp, one request, 5 s at most.
type NTPTester struct{}

// Test implements Tester.
func (NTPTester) Test(ctx context.Context, hostport string) (TestResult, error) {
	dl, ok := ctx.Deadline()
	timeout := 5 * time.Second
	if ok {
		timeout = min(timeout, time.Until(dl))
	}
	r, err := ntp.QueryWithOptions(hostport, ntp.QueryOptions{Timeout: timeout})
	if err != nil {
		return TestResult{}, explainNTPError(err)
	}
	if err := r.Validate(); err != nil {
		if r.Stratum == 0 && r.KissCode != "" {
			return TestResult{}, errors.New(L("the server refused us (kiss code {{.Code}})", map[string]any{"Code": r.KissCode}))
		}
		return TestResult{}, errors.New(L("the server's answer is unusable: {{.Err}}", map[string]any{"Err": err.Error()}))
	}
	return TestResult{OffsetSeconds: r.ClockOffset.Seconds(), DelaySeconds: r.RTT.Seconds(), Stratum: int(r.Stratum), Reference: r.ReferenceString()}, nil
}

// explainNTPError words a query error for people.
func explainNTPError(err error) error {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		return errors.New(L("the name {{.Name}} cannot be resolved", map[string]any{"Name": dnsErr.Name}))
	case errors.Is(err, os.ErrDeadlineExceeded) || strings.Contains(err.Error(), "timeout"):
		return errors.New(L("no answer within 5 s (is UDP port 123 blocked?)"))
	case errors.As(err, &opErr) && strings.Contains(err.Error(), "refused"):
		return errors.New(L("no time service at that address (port unreachable)"))
	}
	return fmt.Errorf("%v", err)
}
