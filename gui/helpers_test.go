package gui

import (
	"net/netip"

	"github.com/timesync/timesync/gui/model"
	"github.com/timesync/timesync/service/control"
)

func netipPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func modelUpdate(st *control.Status, err error) model.Update {
	return model.Update{Status: st, Err: err}
}
