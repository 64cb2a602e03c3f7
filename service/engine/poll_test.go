package engine

import (
	"testing"
	"time"
)

func TestPollInterval(t *testing.T) {
	tests := []struct {
		exp  int
		want time.Duration
	}{
		{6, 64 * time.Second}, {10, 1024 * time.Second}, {1, 8 * time.Second}, {40, 131072 * time.Second},
	}
	for _, tt := range tests {
		if got := PollInterval(tt.exp); got != tt.want {
			t.Errorf("PollInterval(%d): got %v, want %v", tt.exp, got, tt.want)
		}
	}
}

func TestPollControl(t *testing.T) {
	p := NewPollControl(6, 8)
	if p.Exp() != 6 {
		t.Fatalf("start: got %d, want minpoll 6", p.Exp())
	}
	// Quiet: offsets well under 4 jitters. At exp 6 the counter gains 6
	// per update and passes 30 at the 6th update.
	var changedAt []int
	for i := 1; i <= 40 && p.Exp() < 8; i++ {
		if p.Update(10*time.Microsecond, 100*time.Microsecond) {
			changedAt = append(changedAt, i)
		}
	}
	if p.Exp() != 8 {
		t.Fatalf("after quiet updates: got exp %d, want maxpoll 8", p.Exp())
	}
	if len(changedAt) != 2 || changedAt[0] != 6 || changedAt[1] != 6+5 {
		t.Errorf("poll raised at updates %v, want [6 11]", changedAt)
	}
	// It never goes beyond maxpoll.
	for range 20 {
		p.Update(0, time.Millisecond)
	}
	if p.Exp() != 8 {
		t.Errorf("beyond maxpoll: got %d", p.Exp())
	}
	// Disturbed: offsets over 4 jitters lose 2·exp = 16 per update; from
	// the cap of 30 the counter passes −30 at the 4th (14, −2, −18, −34).
	n := 0
	for p.Exp() == 8 && n < 10 {
		n++
		p.Update(time.Millisecond, 10*time.Microsecond)
	}
	if p.Exp() != 7 || n != 4 {
		t.Errorf("after %d disturbed updates: got exp %d, want 7 after 4", n, p.Exp())
	}
	p.Reset()
	if p.Exp() != 6 {
		t.Errorf("Reset: got %d, want 6", p.Exp())
	}
	// Limits are clamped and ordered.
	q := NewPollControl(1, 0)
	if q.MinPoll != MinPollExp || q.MaxPoll != MinPollExp {
		t.Errorf("NewPollControl(1, 0): got %d..%d, want %d..%d", q.MinPoll, q.MaxPoll, MinPollExp, MinPollExp)
	}
}
