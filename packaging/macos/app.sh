#!/bin/sh
# packaging/macos/app.sh BINDIR FYNE (make build-macos-app, on a Mac):
# BINDIR/timesync.app from BINDIR/timesync-gui with fyne package (app id
# org.timesync.gui, the 256 px app icon), with the timesync CLI beside the
# tray inside it (Contents/MacOS/timesync, where the tray's elevation looks
# for it). Not run in CI: the tray needs cgo and Cocoa, so only a Mac builds it.
set -eu
bindir=$1
fyne=$2
[ "$(uname -s)" = Darwin ] || { echo "app.sh: run this on macOS" >&2; exit 1; }
# fyne wants x.y.z: the release part of the package version.
ver=$(packaging/version.sh | sed 's/[~+].*//')
root=$(pwd)
rm -rf "$bindir/timesync.app"
(cd "$bindir" && "$fyne" package --os darwin --exe timesync-gui --name timesync --app-id org.timesync.gui \
	--icon "$root/assets/icons/timesync-256.png" --app-version "$ver" --release)
cp "$bindir/timesync" "$bindir/timesync.app/Contents/MacOS/timesync"
echo "built $bindir/timesync.app (Contents/MacOS/timesync-gui and timesync)"
