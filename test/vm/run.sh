#!/usr/bin/env bash
# test/vm/run.sh — the VM test (`make test-vm`): proves the Linux clock
# driver and `timesync --once` on a real kernel in a throwaway qemu guest,
# never touching this machine's clock. See test/vm/README.md.
#
# It provisions what the guest needs, then runs the Go harness
# (test/vm/host), passing its own arguments on (e.g. -v, -checks step,slew).
#   * qemu-system-x86: installed with apt-get if missing (CI is root on a
#     fresh Debian machine);
#   * the kernel (vmlinuz + e1000.ko) from Debian's linux-image-*-amd64 and
#     a static busybox from busybox-static: fetched with `apt-get download`
#     and unpacked, never installed, and cached in $TIMESYNC_VM_CACHE
#     (default .cache/vm in the repository).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${TIMESYNC_VM_CACHE:-$root/.cache/vm}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

say() { echo "vmtest: $*" >&2; }

apt_updated=""
apt_update() {
	if [ -z "$apt_updated" ]; then
		say "apt-get update"
		$SUDO apt-get update -qq
		apt_updated=1
	fi
}

if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
	say "installing qemu-system-x86"
	apt_update
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 >&2
fi

fetch() {
	local debs="$cache/debs" unpack="$cache/unpack" kpkg kdeb bdeb vmlinuz module
	mkdir -p "$debs" "$unpack"
	# linux-image-amd64 is a metapackage: its dependency is the real kernel.
	kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	if [ -z "$kpkg" ]; then
		apt_update
		kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	fi
	[ -n "$kpkg" ] || { say "cannot find the kernel package behind linux-image-amd64"; exit 1; }
	local want=()
	compgen -G "$debs/${kpkg}_*.deb" >/dev/null || want+=("$kpkg")
	compgen -G "$debs/busybox-static_*.deb" >/dev/null || want+=(busybox-static)
	if [ ${#want[@]} -gt 0 ]; then
		say "fetching ${want[*]} (apt-get download; not installed)"
		if ! (cd "$debs" && apt-get download -q "${want[@]}" >&2); then
			apt_update
			(cd "$debs" && apt-get download -q "${want[@]}" >&2)
		fi
	fi
	kdeb=$(ls -t "$debs"/"$kpkg"_*.deb | head -n1)
	bdeb=$(ls -t "$debs"/busybox-static_*.deb | head -n1)
	rm -rf "$unpack" && mkdir -p "$unpack"
	# Only the two files the guest needs, not the whole 400 MB tree.
	dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$unpack" --wildcards './boot/vmlinuz-*' '*/e1000.ko*'
	dpkg-deb -x "$bdeb" "$unpack"
	vmlinuz=$(find "$unpack" -path '*/boot/vmlinuz-*' | head -n1)
	module=$(find "$unpack" -name 'e1000.ko*' | head -n1)
	[ -n "$vmlinuz" ] && [ -n "$module" ] && [ -x "$unpack/bin/busybox" ] ||
		{ say "unpacked packages lack vmlinuz, e1000.ko or bin/busybox"; exit 1; }
	case "$module" in
	*.ko) cp "$module" "$cache/e1000.ko.tmp" ;;
	*.ko.xz) xz -dc "$module" >"$cache/e1000.ko.tmp" ;;
	*.ko.zst) zstd -dqc "$module" >"$cache/e1000.ko.tmp" ;;
	*) say "unknown module compression: $module"; exit 1 ;;
	esac
	cp "$vmlinuz" "$cache/vmlinuz.tmp"
	cp "$unpack/bin/busybox" "$cache/busybox.tmp"
	mv "$cache/e1000.ko.tmp" "$cache/e1000.ko"
	mv "$cache/busybox.tmp" "$cache/busybox"
	echo "$kpkg" >"$cache/kernel-package"
	mv "$cache/vmlinuz.tmp" "$cache/vmlinuz" # last: marks the cache complete
	rm -rf "$unpack"
}

mkdir -p "$cache"
if [ ! -s "$cache/vmlinuz" ] || [ ! -s "$cache/e1000.ko" ] || [ ! -s "$cache/busybox" ]; then
	fetch
fi
say "guest kernel $(cat "$cache/kernel-package" 2>/dev/null || echo '?') (cache $cache)"

cd "$root"
exec go run ./test/vm/host -kernel "$cache/vmlinuz" -module "$cache/e1000.ko" -busybox "$cache/busybox" "$@"
