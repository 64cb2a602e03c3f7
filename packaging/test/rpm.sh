#!/bin/bash
# packaging/test/rpm.sh DIST: the .rpm packages, read with rpm (Debian's
# rpm package; nothing is installed): the file list, the config file, the
# scriptlets and the requirements.
set -euo pipefail
dist=$(cd "${1:-dist}" && pwd)
version=$(cat "$dist/VERSION")
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

want_files() { # want_files RPM PATH...
	local rpm=$1 list
	shift
	list=$(rpm -qlp "$rpm" 2>/dev/null)
	for f in "$@"; do
		grep -qx "$f" <<<"$list" || fail "$(basename "$rpm") lacks $f"
	done
}

for arch in x86_64 aarch64; do
	r=$dist/timesync-$version-1.$arch.rpm
	[ -f "$r" ] || { fail "missing $r"; continue; }
	want_files "$r" /usr/bin/timesync /usr/lib/systemd/system/timesync.service /etc/timesync/timesync.conf \
		/usr/share/doc/timesync/README.md /usr/share/doc/timesync/CHANGELOG.md
	[ "$(rpm -qp --qf '%{ARCH}' "$r" 2>/dev/null)" = "$arch" ] || fail "$(basename "$r"): arch is not $arch"
done
r=$dist/timesync-$version-1.x86_64.rpm
echo "--- rpm -qlp $(basename "$r")"
rpm -qlp "$r" 2>/dev/null
[ "$(rpm -qcp "$r" 2>/dev/null)" = /etc/timesync/timesync.conf ] && ok "/etc/timesync/timesync.conf is the config file" ||
	fail "config files: $(rpm -qcp "$r" 2>/dev/null)"
rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$r" 2>/dev/null | grep -q '^cn /etc/timesync/timesync.conf$' &&
	ok "the config file is %config(noreplace)" || fail "the config file is not %config(noreplace)"
# rpm --dump: path size mtime digest (sha256) mode ...
unit_digest=$(rpm -qp --dump "$r" 2>/dev/null | awk '$1 == "/usr/lib/systemd/system/timesync.service" {print $4}')
[ "$unit_digest" = "$(sha256sum <"$dist/gen/linux/timesync.service" | cut -d' ' -f1)" ] &&
	ok "the packaged unit is the one the code renders" || fail "the rpm's unit differs from $dist/gen/linux/timesync.service"
scripts=$(rpm -qp --scripts "$r" 2>/dev/null)
for s in "preinstall scriptlet" "postinstall scriptlet" "preuninstall scriptlet" "postuninstall scriptlet" \
	"useradd --system" "systemctl enable" "systemd-timesyncd" "CONFLICT"; do
	grep -qF "$s" <<<"$scripts" || fail "scriptlets lack '$s'"
done
ok "scriptlets: user, enable and start, systemd-timesyncd, conflicts"
rpm -qpR "$r" 2>/dev/null | grep -qx "shadow-utils" && ok "requires shadow-utils (useradd in %pre)" ||
	fail "timesync does not require shadow-utils, whose useradd its %pre runs"

g=$dist/timesync-gui-$version-1.x86_64.rpm
want_files "$g" /usr/bin/timesync-gui /usr/share/applications/timesync-gui.desktop /etc/xdg/autostart/timesync-gui.desktop \
	/usr/share/polkit-1/actions/org.timesync.timesync.policy \
	/usr/share/icons/hicolor/{32x32,48x48,64x64,128x128,256x256}/apps/timesync.png
rpm -qpR "$g" 2>/dev/null | grep -qx "timesync = $version" || fail "timesync-gui does not require timesync = $version"
echo "--- rpm -qlp $(basename "$g")"
rpm -qlp "$g" 2>/dev/null

[ "$fails" -eq 0 ] || { echo "rpm test: $fails failure(s)" >&2; exit 1; }
echo "rpm test: PASS"
