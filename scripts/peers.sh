#!/bin/sh
# Fetches Debian's chrony and ntpsec with `apt-get download` and unpacks them
# with `dpkg -x` into DIR (default .cache/peers) — never installed, so no
# service starts and nothing touches this machine's clock. The peer tests
# (test/peers) run them as servers on loopback: chronyd with -x, ntpd
# without CAP_SYS_TIME inside a network namespace of its own.
set -eu
dir=${1:-.cache/peers}
mkdir -p "$dir/debs"
dir=$(cd "$dir" && pwd)
for pkg in chrony ntpsec; do
	if ! ls "$dir/debs/${pkg}_"*.deb >/dev/null 2>&1; then
		( cd "$dir/debs" && apt-get download "$pkg" >/dev/null 2>&1 ) || {
			apt-get update -qq >/dev/null && ( cd "$dir/debs" && apt-get download "$pkg" >/dev/null )
		}
	fi
	if [ ! -d "$dir/$pkg" ]; then
		dpkg -x "$dir/debs/${pkg}_"*.deb "$dir/$pkg"
	fi
done
echo "$dir"
