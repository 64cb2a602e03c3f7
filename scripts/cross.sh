#!/usr/bin/env bash
# Builds and vets every pure-Go package (all but the cgo GUI) with
# CGO_ENABLED=0 for each OS and architecture we ship, so the darwin and
# windows clock drivers are compiled on every CI run. linux/386 is not
# shipped but is kept building (its socket calls are not the amd64 ones).
set -euo pipefail
GO=${GO:-go}
for target in linux/amd64 linux/arm64 linux/386 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64; do
	export GOOS=${target%/*} GOARCH=${target#*/} CGO_ENABLED=0
	# Only packages with files for this OS (platform/linux has none on windows).
	# The GUI's fyne windows need cgo everywhere, and on macOS so does its
	# tray (fyne.io/systray uses Cocoa): those are built where they can be
	# (make cross-gui for Windows; a Mac for macOS).
	skip='/gui'
	[ "$GOOS" = darwin ] && skip='/gui|/timesync-gui'
	mapfile -t pkgs < <("$GO" list -e -f '{{if .GoFiles}}{{.ImportPath}}{{end}}' ./... | grep -Ev "$skip" || true)
	echo "cross: $target (${#pkgs[@]} packages)"
	"$GO" build "${pkgs[@]}"
	"$GO" vet "${pkgs[@]}"
done
