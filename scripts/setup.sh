#!/bin/sh
# Installs what building and testing timesync needs on a Debian/Ubuntu
# machine: make, git, gcc and a Go toolchain that can fetch the exact
# version go.mod names (any Go >= 1.21 does that through the module proxy).
# Idempotent; installs nothing that is already there. Needs root (or sudo).
set -eu

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

go_ok() {
	command -v go >/dev/null 2>&1 || return 1
	v=$(go env GOVERSION 2>/dev/null | sed 's/^go//') || return 1
	major=${v%%.*}; rest=${v#*.}; minor=${rest%%.*}
	[ "$major" -gt 1 ] || [ "$minor" -ge 21 ]
}

[ -d /usr/local/go/bin ] && PATH="/usr/local/go/bin:$PATH"

pkgs=""
command -v make >/dev/null 2>&1 || pkgs="$pkgs make"
command -v git >/dev/null 2>&1 || pkgs="$pkgs git"
command -v gcc >/dev/null 2>&1 || pkgs="$pkgs gcc libc6-dev"
go_ok || pkgs="$pkgs golang-go"
[ -e /etc/ssl/certs/ca-certificates.crt ] || pkgs="$pkgs ca-certificates"

if [ -n "$pkgs" ]; then
	echo "setup: installing$pkgs"
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs
fi

if ! go_ok; then
	echo "setup: this system's Go is older than 1.21 and cannot fetch the toolchain go.mod needs;" >&2
	echo "setup: install Go >= 1.21 (e.g. Debian's bookworm-backports golang-1.23, or the official tarball) and re-run." >&2
	exit 1
fi
go version

# The tray app (cmd/timesync-gui, make build-gui / test-gui): fyne's GL
# driver needs the X and GL headers (go vet ./... compiles its cgo file
# too), the smoke test needs Xvfb, a private D-Bus session bus,
# ImageMagick's import for screenshots and a Japanese font, and the
# Windows cross-build needs mingw-w64. Installed only when missing.
gui_pkgs=""
for p in pkg-config libgl1-mesa-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev \
	xvfb xauth x11-utils imagemagick dbus-x11 fonts-ipafont-gothic gcc-mingw-w64-x86-64; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || gui_pkgs="$gui_pkgs $p"
done
if [ -n "$gui_pkgs" ]; then
	echo "setup: installing (GUI)$gui_pkgs"
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $gui_pkgs >/dev/null
fi

# Packaging (make dist, make test-packages): NSIS for the Windows
# installer, debootstrap for the throwaway Debian root the .deb is
# installed into, rpm to read the .rpm, wine64 to run the Windows
# installer, systemd for systemd-analyze, osslsigncode to sign. Installed
# only when missing.
pkg_pkgs=""
for p in nsis debootstrap rpm wine64 systemd; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || pkg_pkgs="$pkg_pkgs $p"
done
# osslsigncode signs (and the test verifies) the Windows installer; it may
# come from elsewhere than a Debian package.
command -v osslsigncode >/dev/null 2>&1 || pkg_pkgs="$pkg_pkgs osslsigncode"
if [ -n "$pkg_pkgs" ]; then
	echo "setup: installing (packaging)$pkg_pkgs"
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkg_pkgs >/dev/null
fi
