// Package vmtest is the contract between the VM test's host harness
// (test/vm/host) and the program that runs inside the throwaway qemu guest
// (test/vm/guest): the guard that keeps the guest program off any real
// machine, the kernel command-line parameters that tell it what to do, and
// the one-line, machine-readable result each check prints on the console.
//
// This package only formats and parses; it never touches a clock or the
// network.
package vmtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MarkerPath is the file that exists only in the guest's initramfs. The
// guest program refuses to run unless it exists.
const MarkerPath = "/etc/timesync-vmtest-guest"

// MarkerContent is written into MarkerPath by the host harness.
const MarkerContent = "This root file system is the timesync VM test guest. Never install this file on a real machine.\n"

// CmdlineFlag must appear on the guest's kernel command line
// (/proc/cmdline) as well; the host harness puts it there.
const CmdlineFlag = "timesync.vmtest=1"

// ParamPrefix starts every kernel command-line parameter meant for the
// guest program ("timesync.checks=step,slew").
const ParamPrefix = "timesync."

// Line prefixes on the guest console. Everything else on the console (kernel
// messages, the guest program's progress lines) is only logged by the host.
const (
	ResultPrefix = "VMTEST RESULT "
	DonePrefix   = "VMTEST DONE"
	LogPrefix    = "VMTEST LOG "
)

// ErrNotGuest is returned by Guard on anything but the VM test guest.
var ErrNotGuest = errors.New("refusing to run: this program changes the system clock and runs only inside the timesync VM test guest")

// Guard reports, as an error wrapping ErrNotGuest, whether this is not the
// VM test guest: the marker file must exist with the expected content and
// the kernel command line must carry CmdlineFlag. readFile is os.ReadFile in
// the guest program and a fake in tests.
func Guard(readFile func(string) ([]byte, error)) error {
	marker, err := readFile(MarkerPath)
	if err != nil {
		return fmt.Errorf("%w (marker %s: %v)", ErrNotGuest, MarkerPath, err)
	}
	if string(marker) != MarkerContent {
		return fmt.Errorf("%w (marker %s has unexpected content)", ErrNotGuest, MarkerPath)
	}
	cmdline, err := readFile("/proc/cmdline")
	if err != nil {
		return fmt.Errorf("%w (/proc/cmdline: %v)", ErrNotGuest, err)
	}
	for _, f := range strings.Fields(string(cmdline)) {
		if f == CmdlineFlag {
			return nil
		}
	}
	return fmt.Errorf("%w (kernel command line lacks %s)", ErrNotGuest, CmdlineFlag)
}

// Params are the guest program's parameters, taken from the kernel command
// line with ParamPrefix removed ("timesync.server=10.0.2.2:123" → "server").
type Params map[string]string

// ParseCmdline extracts the Params from a kernel command line.
func ParseCmdline(cmdline string) Params {
	p := Params{}
	for _, f := range strings.Fields(cmdline) {
		if !strings.HasPrefix(f, ParamPrefix) {
			continue
		}
		k, v, _ := strings.Cut(strings.TrimPrefix(f, ParamPrefix), "=")
		p[k] = v
	}
	return p
}

// Cmdline formats p as kernel command-line words, sorted by key, each
// prefixed with ParamPrefix. Keys and values must not contain spaces.
func (p Params) Cmdline() (string, error) {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	words := make([]string, 0, len(keys))
	for _, k := range keys {
		v := p[k]
		if k == "" || strings.ContainsAny(k, " \t\n=") || strings.ContainsAny(v, " \t\n") {
			return "", fmt.Errorf("kernel parameter %q=%q: keys and values must be single words", k, v)
		}
		words = append(words, ParamPrefix+k+"="+v)
	}
	return strings.Join(words, " "), nil
}

// List returns a comma-separated parameter as a slice (nil when absent).
func (p Params) List(key string) []string {
	v := p[key]
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// Duration returns a parameter parsed by time.ParseDuration, or def when it
// is absent.
func (p Params) Duration(key string, def time.Duration) (time.Duration, error) {
	v, ok := p[key]
	if !ok {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("parameter %s%s: %w", ParamPrefix, key, err)
	}
	return d, nil
}

// Float returns a parameter parsed as a float64, or def when it is absent.
func (p Params) Float(key string, def float64) (float64, error) {
	v, ok := p[key]
	if !ok {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("parameter %s%s: %w", ParamPrefix, key, err)
	}
	return f, nil
}

// Result is what one check reports. Figures carry the measured values with
// their unit in the key ("residual_ms", "error_ppm"); Summary says in words
// what was measured against which limit, for the host's summary line.
type Result struct {
	Check   string             `json:"check"`
	OK      bool               `json:"ok"`
	Summary string             `json:"summary"`
	Figures map[string]float64 `json:"figures,omitempty"`
	Error   string             `json:"error,omitempty"`
}

// FormatResult renders r as one console line, ResultPrefix followed by JSON.
func FormatResult(r Result) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		// Only non-finite figures can fail; report that instead of
		// losing the result.
		return FormatResult(Result{Check: r.Check, OK: false, Summary: r.Summary,
			Error: fmt.Sprintf("cannot encode result: %v", err)})
	}
	return ResultPrefix + strings.TrimRight(buf.String(), "\n")
}

// ParseLine recognises a result line in console output. Console lines may
// carry a trailing carriage return and kernel messages interleaved before
// the prefix; the prefix may therefore start anywhere on the line. It
// reports ok=false for lines that are not results, and an error for a
// result line whose JSON is broken.
func ParseLine(line string) (r Result, ok bool, err error) {
	i := strings.Index(line, ResultPrefix)
	if i < 0 {
		return Result{}, false, nil
	}
	payload := strings.TrimSpace(line[i+len(ResultPrefix):])
	dec := json.NewDecoder(strings.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Result{}, true, fmt.Errorf("result line %q: %w", payload, err)
	}
	if r.Check == "" {
		return Result{}, true, fmt.Errorf("result line %q: no check name", payload)
	}
	return r, true, nil
}
