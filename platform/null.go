package platform

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// DefaultMaxFrequencyPPM is the largest frequency correction, in ppm, the
// null driver accepts unless told otherwise: chrony's default maxslewrate
// (1/12), which is also what the Linux driver reports.
const DefaultMaxFrequencyPPM = 83333.333

// DefaultKernelSlewPPM is the rate, in ppm, at which the Linux kernel
// completes a one-shot slew (ADJ_OFFSET_SINGLESHOT, adjtime): 500 µs per
// second. The null driver reports kernel slew durations at this rate unless
// told otherwise.
const DefaultKernelSlewPPM = 500

// NullOptions configures a null driver. Zero values take the defaults.
type NullOptions struct {
	// FrequencyPPM is the frequency correction the driver starts from, in
	// ppm (positive = clock runs faster). Pass the real kernel's value,
	// read read-only, so that a dry run reports what the real driver would
	// see; 0 when unknown.
	FrequencyPPM float64
	// MaxFrequencyPPM is what MaxFrequency reports and the largest |ppm|
	// SetFrequency accepts. Default DefaultMaxFrequencyPPM.
	MaxFrequencyPPM float64
	// KernelSlew reports how long this OS's kernel would take to slew
	// offset on its own, or an error when it would refuse (for example
	// ErrUnsupported on Windows, ErrOutOfRange beyond its limit). Default:
	// |offset| at DefaultKernelSlewPPM, no limit.
	KernelSlew func(offset time.Duration) (time.Duration, error)
}

// ActionKind says what a null driver was asked to do.
type ActionKind string

// The requests a null driver records.
const (
	ActionFrequency  ActionKind = "frequency"
	ActionStep       ActionKind = "step"
	ActionKernelSlew ActionKind = "kernel-slew"
	ActionSyncStatus ActionKind = "sync-status"
)

// Action is one request recorded by a null driver. Only the fields of its
// Kind are set.
type Action struct {
	Kind ActionKind
	// FrequencyPPM is the frequency correction requested (ActionFrequency).
	FrequencyPPM float64
	// Offset is the step or kernel slew requested (positive = forward).
	Offset time.Duration
	// Duration is how long the kernel would take to finish the slew
	// (ActionKernelSlew).
	Duration time.Duration
	// Synced, MaxError and EstError are the sync status reported
	// (ActionSyncStatus).
	Synced             bool
	MaxError, EstError time.Duration
}

// String describes the action in the conditional ("would step the clock by
// +2.500300 s"), for dry-run reports.
func (a Action) String() string {
	switch a.Kind {
	case ActionFrequency:
		return fmt.Sprintf("would set the frequency correction to %+.3f ppm", a.FrequencyPPM)
	case ActionStep:
		return fmt.Sprintf("would step the clock by %+.6f s", a.Offset.Seconds())
	case ActionKernelSlew:
		return fmt.Sprintf("would slew the clock by %+.6f s (the kernel would take %.1f s)", a.Offset.Seconds(), a.Duration.Seconds())
	case ActionSyncStatus:
		state := "unsynchronized"
		if a.Synced {
			state = "synchronized"
		}
		return fmt.Sprintf("would mark the clock %s (max error %v, estimated error %v)", state, a.MaxError, a.EstError)
	}
	return fmt.Sprintf("unknown action %q", string(a.Kind))
}

// Null is the driver of --dry-run: it observes and never touches the OS
// clock. It validates requests as a real driver would, keeps the frequency
// it was last given, and records every request so the caller can report
// what would have been done. It implements Driver, KernelSlewer and
// SyncStatusReporter, and is safe for concurrent use.
type Null struct {
	opt NullOptions

	mu      sync.Mutex
	freqPPM float64
	actions []Action
}

// NewNull returns a null driver starting from the frequency correction
// freqPPM (ppm, positive = faster), with the default limits.
func NewNull(freqPPM float64) *Null {
	return NewNullWithOptions(NullOptions{FrequencyPPM: freqPPM})
}

// NewNullWithOptions returns a null driver configured by opt.
func NewNullWithOptions(opt NullOptions) *Null {
	if opt.MaxFrequencyPPM <= 0 {
		opt.MaxFrequencyPPM = DefaultMaxFrequencyPPM
	}
	if opt.KernelSlew == nil {
		opt.KernelSlew = func(offset time.Duration) (time.Duration, error) {
			return SlewDuration(offset, DefaultKernelSlewPPM), nil
		}
	}
	return &Null{opt: opt, freqPPM: opt.FrequencyPPM}
}

// SlewDuration reports how long slewing offset takes at rate ppm.
func SlewDuration(offset time.Duration, ppm float64) time.Duration {
	return time.Duration(math.Abs(float64(offset)) / (ppm * 1e-6))
}

// Name reports "null".
func (n *Null) Name() string { return "null" }

// Frequency reports the frequency correction last set (or given at
// construction), in ppm.
func (n *Null) Frequency() (float64, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.freqPPM, nil
}

// SetFrequency records the request and keeps ppm as the current frequency.
// Like a real driver it refuses values beyond ±MaxFrequency with
// ErrOutOfRange.
func (n *Null) SetFrequency(ppm float64) error {
	if math.IsNaN(ppm) || math.Abs(ppm) > n.opt.MaxFrequencyPPM {
		return fmt.Errorf("null driver: set frequency %+.3f ppm beyond ±%.3f ppm: %w", ppm, n.opt.MaxFrequencyPPM, ErrOutOfRange)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.freqPPM = ppm
	n.actions = append(n.actions, Action{Kind: ActionFrequency, FrequencyPPM: ppm})
	return nil
}

// MaxFrequency reports the configured limit in ppm.
func (n *Null) MaxFrequency() float64 { return n.opt.MaxFrequencyPPM }

// Step records a step by offset (positive = forward); the clock is not
// touched.
func (n *Null) Step(offset time.Duration) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.actions = append(n.actions, Action{Kind: ActionStep, Offset: offset})
	return nil
}

// KernelSlew records a kernel slew of offset and reports how long the real
// kernel would take (NullOptions.KernelSlew), or its refusal.
func (n *Null) KernelSlew(offset time.Duration) (time.Duration, error) {
	d, err := n.opt.KernelSlew(offset)
	if err != nil {
		return 0, fmt.Errorf("null driver: kernel slew %+.6f s: %w", offset.Seconds(), err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.actions = append(n.actions, Action{Kind: ActionKernelSlew, Offset: offset, Duration: d})
	return d, nil
}

// SetSyncStatus records the sync status that would be reported to the
// kernel.
func (n *Null) SetSyncStatus(synced bool, maxError, estError time.Duration) error {
	if maxError < 0 || estError < 0 {
		return fmt.Errorf("null driver: sync status with negative error (max %v, est %v): %w", maxError, estError, ErrOutOfRange)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.actions = append(n.actions, Action{Kind: ActionSyncStatus, Synced: synced, MaxError: maxError, EstError: estError})
	return nil
}

// Actions returns a copy of every request recorded, oldest first.
func (n *Null) Actions() []Action {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Action(nil), n.actions...)
}

// Steps returns the offsets of the steps recorded, oldest first.
func (n *Null) Steps() []time.Duration {
	var out []time.Duration
	for _, a := range n.Actions() {
		if a.Kind == ActionStep {
			out = append(out, a.Offset)
		}
	}
	return out
}
