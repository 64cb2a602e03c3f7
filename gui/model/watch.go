package model

import (
	"context"
	"encoding/json"
	"time"

	"github.com/timesync/timesync/service/control"
	"github.com/timesync/timesync/service/control/client"
)

// Update is what Follow hands on: the latest status and configuration,
// or the error that keeps the service from being reached (then Status
// and Config are nil).
type Update struct {
	Status *control.Status
	Config *control.ConfigInfo
	Err    error
}

// Follow watches the service through /v1/watch and calls f with each
// status or configuration event, and with an error when the service
// cannot be reached or the stream ends; it then reconnects by itself,
// waiting retry(attempt) between tries (nil: 1 s, 2 s, 4 s … up to 30 s),
// so a restarted service is picked up without polling it. f is called
// from Follow's goroutine. Follow returns when ctx is done.
func Follow(ctx context.Context, c *client.Client, retry func(attempt int) time.Duration, f func(Update)) {
	if retry == nil {
		retry = Backoff
	}
	attempt := 0
	var last Update
	for ctx.Err() == nil {
		connected := false
		err := c.Watch(ctx, func(ev control.Event) error {
			connected = true
			attempt = 0
			switch ev.Kind {
			case control.EventStatus:
				var st control.Status
				if err := json.Unmarshal(ev.Data, &st); err != nil {
					return nil // an event we cannot read changes nothing
				}
				last.Status, last.Err = &st, nil
			case control.EventConfig:
				var ci control.ConfigInfo
				if err := json.Unmarshal(ev.Data, &ci); err != nil {
					return nil
				}
				last.Config, last.Err = &ci, nil
			default:
				return nil
			}
			if last.Status != nil {
				f(last)
			}
			return nil
		})
		if ctx.Err() != nil {
			return
		}
		if connected || last.Err == nil {
			last = Update{Err: err}
			f(last)
		}
		attempt++
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry(attempt)):
		}
	}
}

// Backoff is Follow's default wait before reconnect attempt n (1, 2, …):
// 1 s doubling to 30 s.
func Backoff(n int) time.Duration {
	d := time.Second << min(n-1, 5)
	return min(d, 30*time.Second)
}

type (
	controlStatus = control.Status
	controlConfig = control.ConfigInfo
)
