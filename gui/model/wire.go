package model

import (
	"encoding/json"
	"errors"
)

// The tray process follows the service and hands each update to the
// window process on its standard input, one line each, so that the
// window process holds no connection of its own while idle (an open
// socket makes Go's scheduler poll the network at every one of fyne's
// 60 Hz ticks).

type wireUpdate struct {
	Status *controlStatus `json:"status,omitempty"`
	Config *controlConfig `json:"config,omitempty"`
	Err    string         `json:"err,omitempty"`
}

// EncodeUpdate writes u as one line of JSON (without the newline).
func EncodeUpdate(u Update) ([]byte, error) {
	w := wireUpdate{Status: u.Status, Config: u.Config}
	if u.Err != nil {
		w.Err = u.Err.Error()
		if w.Err == "" {
			w.Err = "error"
		}
	}
	return json.Marshal(w)
}

// DecodeUpdate reads what EncodeUpdate wrote.
func DecodeUpdate(b []byte) (Update, error) {
	var w wireUpdate
	if err := json.Unmarshal(b, &w); err != nil {
		return Update{}, err
	}
	u := Update{Status: w.Status, Config: w.Config}
	if w.Err != "" {
		u.Err = errors.New(w.Err)
	}
	return u, nil
}
