package gui

import (
	"errors"
	"testing"

	"github.com/timesync/timesync/service/control/client"
)

func TestErrorField(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		// The service names the member: its words do not matter.
		{&client.Error{Status: 400, Message: "最小ポーリング間隔が大きすぎます", Field: "server.minpoll"}, "minpoll"},
		{&client.Error{Status: 409, Message: "x", Field: "servers[2].maxpoll"}, "maxpoll"},
		{&client.Error{Status: 409, Message: "x", Field: "servers[1].port"}, "address"},
		{&client.Error{Status: 409, Message: "x", Field: "server.address"}, "address"},
		{&client.Error{Status: 400, Message: "x", Field: "pool.maxsources"}, "maxsources"},
		{&client.Error{Status: 409, Message: "x", Field: "pools[0].name"}, "address"},
		{&client.Error{Status: 400, Message: "x", Field: "addr"}, "target"},
		{&client.Error{Status: 409, Message: "x", Field: "restrict[3].addr"}, "target"},
		{&client.Error{Status: 409, Message: "x", Field: "listen[0]"}, "listen"},
		{&client.Error{Status: 409, Message: "x", Field: "tinker.panic_seconds"}, "panic"},
		{&client.Error{Status: 409, Message: "x", Field: "tinker.stepout_seconds"}, "step"},
		{&client.Error{Status: 409, Message: "x", Field: "drift_file"}, ""},
		// A service that names no member: the words.
		{&client.Error{Status: 400, Message: "server 192.0.2.8: minpoll 12 is greater than maxpoll 8"}, "minpoll"},
		{errors.New("tinker: panic: -1 s is negative"), "panic"},
	} {
		if got := errorField(tt.err); got != tt.want {
			t.Errorf("errorField(%v, field %q) = %q, want %q", tt.err, client.FieldOf(tt.err), got, tt.want)
		}
	}
}
