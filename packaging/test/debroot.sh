#!/bin/bash
# debroot.sh DIR: a throwaway Debian 12 (bookworm) root in DIR for the .deb
# test, made by debootstrap from this machine's configured Debian mirror.
# The finished root is cached as a tarball in .cache/pkgtest keyed by suite,
# architecture, mirror and package list, so only the first run downloads
# (debootstrap's own --cache-dir keeps the .debs too). Needs root.
set -euo pipefail

dir=$1
suite=bookworm
arch=$(dpkg --print-architecture)
# adduser and systemd: what the package's maintainer scripts use
# (adduser, deb-systemd-helper, deb-systemd-invoke, systemctl) and
# systemd-analyze for verifying the unit inside the root; systemd-timesyncd,
# which the postinst must stop and disable; the tray's libraries.
include=adduser,systemd,systemd-timesyncd,libgl1,libx11-6

mirror=${DEBROOT_MIRROR:-}
if [ -z "$mirror" ]; then
	# The first Debian URI of the configured sources (deb822 or one-line).
	mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ && $2 ~ /debian\/?$/ {print $2; exit}')
	[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "'"$suite"'" {print $2; exit}' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null)
	[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi

cache=${DEBROOT_CACHE:-$(pwd)/.cache/pkgtest}
mkdir -p "$cache/debs"
key=$(printf '%s %s %s %s' "$suite" "$arch" "$mirror" "$include" | sha256sum | cut -c1-12)
tarball="$cache/debian-$suite-$arch-$key.tar"

mkdir -p "$dir"
if [ -s "$tarball" ]; then
	tar -C "$dir" -xf "$tarball"
	echo "debroot: $suite root from $tarball" >&2
	exit 0
fi
# Roots of other package lists or mirrors are stale.
find "$cache" -maxdepth 1 -name "debian-$suite-$arch-*.tar" ! -name "$(basename "$tarball")" -delete
echo "debroot: debootstrap $suite from $mirror (first run; cached after)" >&2
debootstrap --variant=minbase --include="$include" --cache-dir="$(cd "$cache/debs" && pwd)" \
	"$suite" "$dir" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
	tail -30 "$cache/debootstrap.log" >&2
	exit 1
}
rm -rf "$dir/var/cache/apt/archives/"*.deb
tar -C "$dir" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
