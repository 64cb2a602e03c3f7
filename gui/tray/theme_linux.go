package tray

import (
	"context"
	"time"

	"github.com/godbus/dbus/v5"
)

// The freedesktop settings portal (xdg-desktop-portal, on GNOME, KDE and
// the others that ship it) publishes the desktop's colour scheme as
// org.freedesktop.appearance color-scheme: 0 no preference, 1 prefer
// dark, 2 prefer light; SettingChanged signals a change.
const (
	portalName      = "org.freedesktop.portal.Desktop"
	portalPath      = "/org/freedesktop/portal/desktop"
	portalSettings  = "org.freedesktop.portal.Settings"
	appearanceNS    = "org.freedesktop.appearance"
	colorSchemeKey  = "color-scheme"
	portalCallLimit = 5 * time.Second
)

// FollowColorScheme calls set with whether the desktop prefers dark,
// now and whenever that changes, until ctx is done. It returns at once
// (reporting false) when the session bus or the settings portal cannot
// be reached; without a preference the tray keeps the icons for a light
// panel. The panel's own colour is published nowhere: the desktop's
// colour scheme is the nearest signal (a KDE panel follows it; GNOME's
// top bar is dark whatever the scheme, hence --dark-panel).
func FollowColorScheme(ctx context.Context, set func(dark bool)) bool {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return false
	}
	// Subscribe before reading, so a change in between is not lost.
	match := []dbus.MatchOption{
		dbus.WithMatchObjectPath(portalPath),
		dbus.WithMatchInterface(portalSettings),
		dbus.WithMatchMember("SettingChanged"),
		dbus.WithMatchArg(0, appearanceNS),
	}
	if err := conn.AddMatchSignalContext(ctx, match...); err != nil {
		conn.Close()
		return false
	}
	sigs := make(chan *dbus.Signal, 8)
	conn.Signal(sigs)
	dark, ok := readColorScheme(ctx, conn.Object(portalName, portalPath))
	if !ok {
		conn.Close()
		return false
	}
	set(dark)
	go func() {
		defer conn.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case sig, open := <-sigs:
				if !open {
					return
				}
				if d, ok := colorSchemeChange(sig); ok {
					set(d)
				}
			}
		}
	}()
	return true
}

// readColorScheme asks the portal for the colour scheme: ReadOne
// (version 2 of the interface), else Read (which wraps the value in one
// more variant).
func readColorScheme(ctx context.Context, portal dbus.BusObject) (dark, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, portalCallLimit)
	defer cancel()
	var v dbus.Variant
	if err := portal.CallWithContext(ctx, portalSettings+".ReadOne", 0, appearanceNS, colorSchemeKey).Store(&v); err != nil {
		if err := portal.CallWithContext(ctx, portalSettings+".Read", 0, appearanceNS, colorSchemeKey).Store(&v); err != nil {
			return false, false
		}
	}
	return prefersDark(v)
}

// colorSchemeChange reads a SettingChanged signal (namespace, key,
// value); ok is false for any other setting.
func colorSchemeChange(sig *dbus.Signal) (dark, ok bool) {
	if sig.Name != portalSettings+".SettingChanged" || len(sig.Body) != 3 {
		return false, false
	}
	ns, _ := sig.Body[0].(string)
	key, _ := sig.Body[1].(string)
	v, isVariant := sig.Body[2].(dbus.Variant)
	if ns != appearanceNS || key != colorSchemeKey || !isVariant {
		return false, false
	}
	return prefersDark(v)
}

// prefersDark reads a color-scheme value, unwrapping variants: 1 is
// dark; 0 (no preference) and 2 (light) are not.
func prefersDark(v dbus.Variant) (dark, ok bool) {
	for range 3 {
		inner, nested := v.Value().(dbus.Variant)
		if !nested {
			break
		}
		v = inner
	}
	switch n := v.Value().(type) {
	case uint32:
		return n == 1, true
	case int32:
		return n == 1, true
	}
	return false, false
}
