package platform

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestNullStartsFromGivenFrequency(t *testing.T) {
	for _, ppm := range []float64{0, -12.345, 480.5} {
		n := NewNull(ppm)
		got, err := n.Frequency()
		if err != nil {
			t.Fatalf("Frequency: %v", err)
		}
		if got != ppm {
			t.Errorf("NewNull(%v).Frequency() = %v, want %v", ppm, got, ppm)
		}
		if len(n.Actions()) != 0 {
			t.Errorf("NewNull(%v) recorded %v before any request", ppm, n.Actions())
		}
	}
}

func TestNullSetFrequency(t *testing.T) {
	tests := []struct {
		name    string
		max     float64
		ppm     float64
		wantErr error
	}{
		{"zero", 0, 0, nil},
		{"positive within default", 0, 83333.333, nil},
		{"negative within default", 0, -500, nil},
		{"beyond default", 0, 83334, ErrOutOfRange},
		{"beyond custom limit", 3000, -3000.1, ErrOutOfRange},
		{"NaN", 0, math.NaN(), ErrOutOfRange},
		{"+Inf", 0, math.Inf(1), ErrOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := NewNullWithOptions(NullOptions{FrequencyPPM: 7, MaxFrequencyPPM: tt.max})
			err := n.SetFrequency(tt.ppm)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("SetFrequency(%v) = %v, want %v", tt.ppm, err, tt.wantErr)
			}
			got, _ := n.Frequency()
			want := tt.ppm
			if tt.wantErr != nil {
				want = 7 // refused: unchanged
			}
			if got != want {
				t.Errorf("Frequency() after SetFrequency(%v) = %v, want %v", tt.ppm, got, want)
			}
			wantActions := 1
			if tt.wantErr != nil {
				wantActions = 0
			}
			if a := n.Actions(); len(a) != wantActions {
				t.Errorf("recorded %d actions, want %d: %v", len(a), wantActions, a)
			}
		})
	}
}

func TestNullMaxFrequency(t *testing.T) {
	if got := NewNull(0).MaxFrequency(); got != DefaultMaxFrequencyPPM {
		t.Errorf("default MaxFrequency() = %v, want %v", got, DefaultMaxFrequencyPPM)
	}
	if got := NewNullWithOptions(NullOptions{MaxFrequencyPPM: 3000}).MaxFrequency(); got != 3000 {
		t.Errorf("MaxFrequency() = %v, want 3000", got)
	}
}

func TestNullRecordsInOrder(t *testing.T) {
	n := NewNull(0)
	if err := n.Step(2500300 * time.Microsecond); err != nil {
		t.Fatal(err)
	}
	if err := n.SetFrequency(-1.5); err != nil {
		t.Fatal(err)
	}
	if err := n.Step(-time.Second); err != nil {
		t.Fatal(err)
	}
	if err := n.SetSyncStatus(true, 20*time.Millisecond, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	d, err := n.KernelSlew(-100 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// 100 ms at 500 ppm = 200 s.
	if d != 200*time.Second {
		t.Errorf("KernelSlew(-100ms) = %v, want 200s", d)
	}
	want := []Action{
		{Kind: ActionStep, Offset: 2500300 * time.Microsecond},
		{Kind: ActionFrequency, FrequencyPPM: -1.5},
		{Kind: ActionStep, Offset: -time.Second},
		{Kind: ActionSyncStatus, Synced: true, MaxError: 20 * time.Millisecond, EstError: time.Millisecond},
		{Kind: ActionKernelSlew, Offset: -100 * time.Millisecond, Duration: 200 * time.Second},
	}
	got := n.Actions()
	if len(got) != len(want) {
		t.Fatalf("Actions() = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Actions()[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	steps := n.Steps()
	if len(steps) != 2 || steps[0] != 2500300*time.Microsecond || steps[1] != -time.Second {
		t.Errorf("Steps() = %v, want [2.5003s -1s]", steps)
	}
	// Actions returns a copy.
	got[0].Offset = 0
	if n.Actions()[0].Offset == 0 {
		t.Error("Actions() returned the driver's own slice")
	}
}

func TestNullKernelSlewOption(t *testing.T) {
	n := NewNullWithOptions(NullOptions{KernelSlew: func(time.Duration) (time.Duration, error) {
		return 0, ErrUnsupported
	}})
	if _, err := n.KernelSlew(time.Millisecond); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("KernelSlew = %v, want ErrUnsupported", err)
	}
	if a := n.Actions(); len(a) != 0 {
		t.Errorf("refused kernel slew was recorded: %v", a)
	}
}

func TestNullSyncStatusRefusesNegative(t *testing.T) {
	n := NewNull(0)
	if err := n.SetSyncStatus(true, -time.Second, 0); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("SetSyncStatus(max -1s) = %v, want ErrOutOfRange", err)
	}
}

func TestActionString(t *testing.T) {
	tests := []struct {
		a    Action
		want string
	}{
		{Action{Kind: ActionStep, Offset: 2500300 * time.Microsecond}, "would step the clock by +2.500300 s"},
		{Action{Kind: ActionStep, Offset: -time.Millisecond}, "would step the clock by -0.001000 s"},
		{Action{Kind: ActionFrequency, FrequencyPPM: 12.5}, "would set the frequency correction to +12.500 ppm"},
		{Action{Kind: ActionKernelSlew, Offset: 50 * time.Millisecond, Duration: 100 * time.Second}, "would slew the clock by +0.050000 s (the kernel would take 100.0 s)"},
		{Action{Kind: ActionSyncStatus, Synced: false, MaxError: 16 * time.Second, EstError: 16 * time.Second}, "would mark the clock unsynchronized"},
	}
	for _, tt := range tests {
		if got := tt.a.String(); !strings.HasPrefix(got, tt.want) {
			t.Errorf("%+v.String() = %q, want prefix %q", tt.a, got, tt.want)
		}
	}
}

func TestNullWithClockNeverLeavesTheDriver(t *testing.T) {
	// The shared layer on top of the null driver: a slew becomes frequency
	// requests, a step is recorded with its size.
	n := NewNull(3)
	ft := &nullTestTimers{now: time.Unix(1000, 0)}
	c, err := NewClock(n, ClockOptions{Timers: ft})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Frequency(); got != 3 {
		t.Errorf("Clock base frequency = %v, want 3 (the null driver's initial value)", got)
	}
	if err := c.Step(-2 * time.Second); err != nil {
		t.Fatal(err)
	}
	if s := n.Steps(); len(s) != 1 || s[0] != -2*time.Second {
		t.Errorf("Steps() = %v, want [-2s]", s)
	}
}

type nullTestTimers struct{ now time.Time }

func (f *nullTestTimers) Now() time.Time { return f.now }
func (f *nullTestTimers) AfterFunc(time.Duration, func()) func() bool {
	return func() bool { return true }
}
