package wake

import (
	"context"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// step is one reading, as increments since the previous: how far the
// monotonic, boot and wall clocks advanced.
type step struct{ mono, boot, wall time.Duration }

func s(mono, boot, wall time.Duration) step { return step{mono, boot, wall} }

const sec = time.Second

type want struct {
	kind  Kind
	slept time.Duration
	jump  time.Duration
}

func TestObserve(t *testing.T) {
	tests := []struct {
		name   string
		w      *Watcher
		expect map[int]time.Duration // reading index → Expect(step) called before it
		steps  []step
		want   map[int][]want // reading index → events
	}{
		{name: "steady", steps: []step{s(sec, sec, sec), s(sec, sec, sec), s(sec, sec, sec+time.Millisecond)}},
		{name: "suspend an hour (Linux: boot clock runs on)",
			steps: []step{s(sec, sec, sec), s(sec, 3601*sec, 3601*sec)},
			want:  map[int][]want{2: {{kind: Resumed, slept: 3600 * sec}}}},
		{name: "short nap below the sleep threshold",
			steps: []step{s(sec, 1500*time.Millisecond, 1500*time.Millisecond)}},
		{name: "date -s five seconds ahead",
			steps: []step{s(sec, sec, sec), s(sec, sec, 6*sec), s(sec, sec, sec)},
			want:  map[int][]want{2: {{kind: ClockJumped, jump: 5 * sec}}}},
		{name: "set back two seconds",
			steps: []step{s(sec, sec, -sec)},
			want:  map[int][]want{1: {{kind: ClockJumped, jump: -2 * sec}}}},
		{name: "jump just below the threshold",
			steps: []step{s(sec, sec, sec+49*time.Millisecond)}},
		{name: "jump at the threshold",
			steps: []step{s(sec, sec, sec+50*time.Millisecond)},
			want:  map[int][]want{1: {{kind: ClockJumped, jump: 50 * time.Millisecond}}}},
		{name: "resume with the RTC 50 s off",
			steps: []step{s(sec, 100*sec, 150*sec)},
			want:  map[int][]want{1: {{kind: Resumed, slept: 99 * sec}, {kind: ClockJumped, jump: 50 * sec}}}},
		{name: "no boot clock: a resume shows as a jump",
			steps: []step{s(sec, sec, 101*sec)},
			want:  map[int][]want{1: {{kind: ClockJumped, jump: 100 * sec}}}},
		{name: "slewing within SlewPPM is no jump",
			w:     &Watcher{SlewPPM: 1000},
			steps: []step{s(1000*sec, 1000*sec, 1000*sec+900*time.Millisecond)}},
		{name: "slewing past SlewPPM is",
			w:     &Watcher{SlewPPM: 1000},
			steps: []step{s(1000*sec, 1000*sec, 1000*sec+1100*time.Millisecond)},
			want:  map[int][]want{1: {{kind: ClockJumped, jump: 1100 * time.Millisecond}}}},
		{name: "our own step is not reported",
			expect: map[int]time.Duration{2: 3 * sec},
			steps:  []step{s(sec, sec, sec), s(sec, sec, 4*sec), s(sec, sec, sec)}},
		{name: "our own step announced a reading early",
			expect: map[int]time.Duration{1: -3 * sec},
			steps:  []step{s(sec, sec, sec), s(sec, sec, -2*sec), s(sec, sec, sec)}},
		{name: "an announced step that never came expires; a later jump is reported",
			expect: map[int]time.Duration{1: 3 * sec},
			steps:  []step{s(sec, sec, sec), s(sec, sec, sec), s(sec, sec, 4*sec)},
			want:   map[int][]want{3: {{kind: ClockJumped, jump: 3 * sec}}}},
		{name: "a different jump than announced is reported",
			expect: map[int]time.Duration{1: 3 * sec},
			steps:  []step{s(sec, sec, 11*sec)},
			want:   map[int][]want{1: {{kind: ClockJumped, jump: 10 * sec}}}},
		{name: "custom thresholds",
			w:     &Watcher{Threshold: sec, SleepThreshold: time.Minute},
			steps: []step{s(sec, 30*sec, 30*sec+900*time.Millisecond), s(sec, 90*sec, 91*sec)},
			want:  map[int][]want{2: {{kind: Resumed, slept: 89 * sec}, {kind: ClockJumped, jump: sec}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.w
			if w == nil {
				w = &Watcher{}
			}
			r := Reading{Wall: t0, Mono: 5 * sec, Boot: 7 * sec}
			if evs := w.Observe(r); evs != nil {
				t.Fatalf("first reading: got %v, want nothing", evs)
			}
			for i, st := range tt.steps {
				i++ // reading index; 0 was the first
				if d, ok := tt.expect[i]; ok {
					w.Expect(d)
				}
				r = Reading{Wall: r.Wall.Add(st.wall), Mono: r.Mono + st.mono, Boot: r.Boot + st.boot}
				var got []want
				for _, e := range w.Observe(r) {
					got = append(got, want{kind: e.Kind, slept: e.Slept, jump: e.Jump})
					if !e.Wall.Equal(r.Wall) {
						t.Errorf("reading %d: event at %v, want %v", i, e.Wall, r.Wall)
					}
				}
				if !reflect.DeepEqual(got, tt.want[i]) {
					t.Errorf("reading %d: got %+v, want %+v", i, got, tt.want[i])
				}
			}
		})
	}
}

func TestEventString(t *testing.T) {
	tests := []struct {
		e    Event
		want string
	}{
		{Event{Kind: Resumed, Slept: 3600*sec + 1234567}, "resumed after 1h0m0.001s asleep"},
		{Event{Kind: ClockJumped, Jump: 2500 * time.Millisecond}, "clock jumped by +2.500000 s behind our back"},
		{Event{Kind: ClockJumped, Jump: -time.Millisecond}, "clock jumped by -0.001000 s behind our back"},
	}
	for _, tt := range tests {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestRun(t *testing.T) {
	readings := []Reading{
		{Wall: t0, Mono: sec, Boot: sec},
		{Wall: t0.Add(sec), Mono: 2 * sec, Boot: 2 * sec},
		{Wall: t0.Add(69 * sec), Mono: 3 * sec, Boot: 70 * sec}, // slept 67 s
	}
	n := 0
	read := func() Reading { r := readings[n]; n++; return r }
	ticks := make(chan time.Time)
	events := make(chan Event, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		(&Watcher{}).Run(ctx, ticks, read, func(e Event) { events <- e })
		close(done)
	}()
	ticks <- t0
	ticks <- t0
	e := <-events
	if e.Kind != Resumed || e.Slept != 67*sec {
		t.Errorf("got %v, want resumed after 67 s", e)
	}
	cancel()
	<-done
	if n != 3 {
		t.Errorf("%d readings taken, want 3", n)
	}
	select {
	case e := <-events:
		t.Errorf("unexpected event %v", e)
	default:
	}
}

// TestReadThisMachine reads the real clocks (read-only): two readings in a
// row are consistent and report nothing.
func TestReadThisMachine(t *testing.T) {
	a, b := Read(), Read()
	if a.Mono <= 0 || a.Boot <= 0 {
		t.Errorf("clocks not read: %+v", a)
	}
	if b.Mono < a.Mono || b.Boot < a.Boot {
		t.Errorf("clocks went backwards: %+v then %+v", a, b)
	}
	if a.Boot < a.Mono {
		t.Errorf("boot clock %v behind the monotonic clock %v", a.Boot, a.Mono)
	}
	w := NewWatcher()
	w.Observe(a)
	if evs := w.Observe(b); len(evs) != 0 {
		t.Errorf("two readings in a row: got %v, want nothing", evs)
	}
}
