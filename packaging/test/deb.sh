#!/bin/bash
# packaging/test/deb.sh DIST: the .deb packages in a throwaway Debian 12 root
# (packaging/test/debroot.sh), inside a private mount namespace, with a
# policy-rc.d that forbids starting daemons: nothing runs on this machine.
# Installs timesync and timesync-gui with dpkg, checks every file, the
# maintainer scripts' work and words (user, systemd-timesyncd stopped and
# disabled, chrony named as a conflict, unit enabled), systemd-analyze
# verify of the unit, timesync --version and config check inside the root,
# a reinstall keeping a changed conffile, removal (systemd-timesyncd enabled
# again) and purge leaving nothing but the kept system user; then the .rpm's
# scriptlets in the same root. Needs root.
set -euo pipefail

dist=$(cd "${1:-dist}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "deb test: needs root (debootstrap, chroot)" >&2; exit 1; }

if [ -z "${DEBTEST_IN_NS:-}" ]; then
	# Own mount namespace: /proc inside the root disappears with us.
	exec env DEBTEST_IN_NS=1 unshare --mount --propagation private "$0" "$dist"
fi

version=$(cat "$dist/VERSION")
commit=$(cat "$dist/COMMIT")
deb=$dist/timesync_${version}_amd64.deb
gui=$dist/timesync-gui_${version}_amd64.deb

work=$(mktemp -d "${TMPDIR:-/tmp}/timesync-debtest.XXXXXX")
root=$work/root
cleanup() {
	umount "$root/proc" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

# The arm64 package: same paths, its own architecture (not installed).
arm=$dist/timesync_${version}_arm64.deb
if [ "$(dpkg-deb -f "$arm" Architecture)" = arm64 ] &&
	diff <(dpkg-deb -c "$deb" | awk '{print $6}') <(dpkg-deb -c "$arm" | awk '{print $6}') >/dev/null; then
	ok "the arm64 .deb has the amd64 one's files"
else
	fail "the arm64 .deb differs from the amd64 one in architecture or files"
fi

"$here/debroot.sh" "$root"
mount -t proc proc "$root/proc"
printf '#!/bin/sh\n# timesync package test: start no daemon in this root\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
# Another time daemon that the postinst must name and leave alone.
printf '[Unit]\nDescription=stand-in for chrony (timesync package test)\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n' \
	>"$root/etc/systemd/system/chrony.service"
timesyncd_link=etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service
[ -L "$root/$timesyncd_link" ] || fail "systemd-timesyncd is not enabled in the fresh root; the test cannot check the postinst's handling"

# What the root holds before: path, type, mode, owner, and a digest of each
# regular file; the log and package database directories excepted.
manifest() {
	(cd "$root" && find . -xdev \( -path ./proc -o -path ./dev -o -path ./run -o -path ./tmp \
		-o -path ./var/log -o -path ./var/cache -o -path ./var/lib/dpkg -o -path ./var/lib/apt \) -prune -o -print0 |
		LC_ALL=C sort -z | xargs -0 stat -c '%n %F %a %U:%G' | while read -r p rest; do
			if [ -f "$p" ] && [ ! -L "$p" ]; then
				echo "$p $rest $(sha256sum <"$p" | cut -c1-16)"
			else
				echo "$p $rest"
			fi
		done)
}
manifest >"$work/before"

cp "$deb" "$gui" "$root/tmp/"
echo "--- dpkg -i timesync timesync-gui"
if ! in_root dpkg -i "/tmp/$(basename "$deb")" "/tmp/$(basename "$gui")" >"$work/install.log" 2>&1; then
	cat "$work/install.log"
	fail "dpkg -i failed"
	exit 1
fi
cat "$work/install.log"

# Every file of both packages is in place, with the packaged contents.
for p in "$deb" "$gui"; do
	dpkg-deb --fsys-tarfile "$p" | tar -t | grep -v '/$' | while read -r f; do
		f=${f#./}
		if [ ! -e "$root/$f" ]; then echo "FAIL: /$f of $(basename "$p") is missing"; fi
	done
done | tee "$work/missing"
[ -s "$work/missing" ] && fail "files missing" || ok "every file of both packages is in place"
for f in usr/bin/timesync usr/bin/timesync-gui lib/systemd/system/timesync.service etc/timesync/timesync.conf \
	usr/share/applications/timesync-gui.desktop etc/xdg/autostart/timesync-gui.desktop \
	usr/share/polkit-1/actions/org.timesync.timesync.policy usr/share/icons/hicolor/48x48/apps/timesync.png \
	usr/share/icons/hicolor/256x256/apps/timesync.png; do
	[ -e "$root/$f" ] || fail "/$f missing"
done
cmp -s "$root/lib/systemd/system/timesync.service" "$dist/gen/linux/timesync.service" &&
	ok "the packaged unit is the one the code renders (packaging/gen)" || fail "unit differs from $dist/gen/linux/timesync.service"
grep -qx 'ExecStart=/usr/bin/timesync "service" "run" "--config" "/etc/timesync/timesync.conf"' "$root/lib/systemd/system/timesync.service" &&
	ok "ExecStart runs /usr/bin/timesync with /etc/timesync/timesync.conf" || fail "ExecStart is not the packaged binary and config"
in_root dpkg-query -W -f='${Conffiles}\n' timesync | grep -q '^ /etc/timesync/timesync.conf ' &&
	ok "/etc/timesync/timesync.conf is a conffile" || fail "/etc/timesync/timesync.conf is not a conffile"
in_root dpkg-query -W -f='${Conffiles}\n' timesync-gui | grep -q '^ /etc/xdg/autostart/timesync-gui.desktop ' ||
	fail "the autostart entry is not a conffile"

# The maintainer scripts' work and what they said.
in_root getent passwd timesync | grep -q '^timesync:x:[0-9]*:[0-9]*:.*:/var/lib/timesync:/usr/sbin/nologin$' &&
	ok "system user timesync: $(in_root getent passwd timesync)" || fail "no system user timesync: $(in_root getent passwd timesync || true)"
in_root getent group timesync >/dev/null || fail "no group timesync"
[ -L "$root/etc/systemd/system/multi-user.target.wants/timesync.service" ] &&
	ok "timesync.service enabled (multi-user.target.wants)" || fail "timesync.service is not enabled"
[ ! -e "$root/$timesyncd_link" ] && ok "systemd-timesyncd disabled" || fail "systemd-timesyncd is still enabled"
[ -L "$root/etc/systemd/system/multi-user.target.wants/chrony.service" ] || [ -e "$root/etc/systemd/system/chrony.service" ] ||
	fail "chrony's unit was touched"
for w in "created the system user and group timesync" "stopped and disabled systemd-timesyncd" \
	"CONFLICT: chrony.service is installed" "left it alone" "enabled timesync.service" \
	"systemd is not running here: timesync.service not started"; do
	grep -qF "$w" "$work/install.log" || fail "the postinst did not say: $w"
done

# systemd-analyze verify, inside the root (its systemd, our unit).
if [ -x "$root/usr/bin/systemd-analyze" ]; then
	out=$(in_root env SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no /lib/systemd/system/timesync.service 2>&1) || true
	if echo "$out" | grep -q 'timesync.service'; then
		fail "systemd-analyze verify: $out"
	else
		ok "systemd-analyze verify: nothing about timesync.service${out:+ (other units: $(echo "$out" | wc -l) lines)}"
	fi
else
	fail "no systemd-analyze in the root"
fi

# The binaries run in the root.
got=$(in_root /usr/bin/timesync --version)
case "$got" in
"timesync $version (commit $commit, go"*" linux/amd64)") ok "timesync --version: $got" ;;
*) fail "timesync --version = $got; want version $version commit $commit" ;;
esac
in_root /usr/bin/timesync config check /etc/timesync/timesync.conf >/dev/null &&
	ok "timesync config check /etc/timesync/timesync.conf" || fail "the default configuration does not check"
nf=$(in_root ldd /usr/bin/timesync-gui | grep -c 'not found' || true)
[ "$nf" = 0 ] && ok "timesync-gui's libraries resolve in the root (Depends: libgl1, libx11-6)" || fail "timesync-gui: $nf libraries not found"

# A reinstall (the upgrade path) keeps a changed conffile and the enablement.
echo "server 192.0.2.1 iburst # kept by the test" >>"$root/etc/timesync/timesync.conf"
in_root dpkg -i "/tmp/$(basename "$deb")" >"$work/reinstall.log" 2>&1 || { cat "$work/reinstall.log"; fail "reinstall failed"; }
grep -q "kept by the test" "$root/etc/timesync/timesync.conf" && ok "reinstall keeps the changed /etc/timesync/timesync.conf" ||
	fail "reinstall lost the changed configuration"
[ -L "$root/etc/systemd/system/multi-user.target.wants/timesync.service" ] || fail "reinstall disabled timesync.service"

# Removal: the service's files go, the configuration stays, systemd-timesyncd comes back.
echo "--- dpkg -r timesync-gui timesync"
in_root dpkg -r timesync-gui timesync >"$work/remove.log" 2>&1 || { cat "$work/remove.log"; fail "dpkg -r failed"; }
cat "$work/remove.log"
[ ! -e "$root/usr/bin/timesync" ] && [ ! -e "$root/lib/systemd/system/timesync.service" ] || fail "dpkg -r left the binary or the unit"
[ -e "$root/etc/timesync/timesync.conf" ] && ok "dpkg -r keeps /etc/timesync/timesync.conf" || fail "dpkg -r removed the configuration"
[ -L "$root/$timesyncd_link" ] && ok "dpkg -r enables systemd-timesyncd again" || fail "systemd-timesyncd not enabled again"
grep -qF "enabled systemd-timesyncd again" "$work/remove.log" || fail "the prerm did not say it enabled systemd-timesyncd"

# Installed again from the config-files state 'dpkg -r' left: it takes the
# clock over as a first install does (the postinst sees the old version in
# $2, as for an upgrade), then goes again.
echo "--- dpkg -i timesync (after dpkg -r), then dpkg -r again"
in_root dpkg -i "/tmp/$(basename "$deb")" >"$work/again.log" 2>&1 || { cat "$work/again.log"; fail "install after dpkg -r failed"; }
[ -L "$root/etc/systemd/system/multi-user.target.wants/timesync.service" ] && [ ! -e "$root/$timesyncd_link" ] &&
	grep -qF "stopped and disabled systemd-timesyncd" "$work/again.log" &&
	ok "an install after dpkg -r enables timesync and disables systemd-timesyncd again" ||
	{ cat "$work/again.log"; fail "an install after dpkg -r did not take the clock over again"; }
in_root dpkg -r timesync >"$work/remove2.log" 2>&1 || { cat "$work/remove2.log"; fail "second dpkg -r failed"; }
[ -L "$root/$timesyncd_link" ] || fail "the second dpkg -r did not enable systemd-timesyncd again"

# Purge: nothing left but the system user (kept, as Debian does).
echo "--- dpkg --purge timesync-gui timesync"
in_root dpkg --purge timesync-gui timesync >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "dpkg --purge failed"; }
cat "$work/purge.log"
manifest >"$work/after"
diff "$work/before" "$work/after" | grep '^[<>]' | awk '{print $1, $2}' | sort -u -k2 >"$work/diff" || true
unexpected=$(grep -v -E ' \./etc/(passwd|group|shadow|gshadow|subuid|subgid)-?$' "$work/diff" || true)
if [ -n "$unexpected" ]; then
	fail "dpkg --purge left these changes (< before, > after):"
	echo "$unexpected" >&2
else
	ok "dpkg --purge leaves nothing behind but the system user timesync in $(awk '{print $2}' "$work/diff" | sort -u | tr '\n' ' ')"
fi
in_root dpkg-query -W timesync >/dev/null 2>&1 && fail "dpkg still knows timesync after purge" || true

# With another time daemon enabled (the stand-in chrony), a first install
# names it and neither enables nor starts timesync, nor touches
# systemd-timesyncd; the administrator chooses.
chrony_link=etc/systemd/system/multi-user.target.wants/chrony.service
ln -s /etc/systemd/system/chrony.service "$root/$chrony_link"
echo "--- dpkg -i timesync with chrony enabled"
in_root dpkg -i "/tmp/$(basename "$deb")" >"$work/busy.log" 2>&1 || { cat "$work/busy.log"; fail "install beside an enabled chrony failed"; }
cat "$work/busy.log"
if [ ! -e "$root/etc/systemd/system/multi-user.target.wants/timesync.service" ] && [ -L "$root/$chrony_link" ] &&
	[ -L "$root/$timesyncd_link" ] && grep -qF "did NOT enable or start timesync.service" "$work/busy.log"; then
	ok "beside an enabled chrony: timesync not enabled, chrony and systemd-timesyncd untouched, and it says so"
else
	fail "beside an enabled chrony the postinst enabled timesync or touched another daemon"
fi
in_root dpkg --purge timesync >/dev/null 2>&1 || fail "purge after the chrony case failed"
rm -f "$root/$chrony_link"

# The .rpm's scriptlets, taken from the package with rpm, run in the same
# root (they need only systemctl and useradd; systemd-timesyncd is enabled
# again and chrony's stand-in is still there): install ($1 = 1), erase ($1 = 0).
rpm=$dist/timesync-$version-1.x86_64.rpm
if command -v rpm >/dev/null 2>&1 && [ -f "$rpm" ]; then
	echo "--- the .rpm's scriptlets in the root"
	in_root userdel timesync
	in_root groupdel timesync 2>/dev/null || true
	cp "$dist/gen/linux/timesync.service" "$root/usr/lib/systemd/system/timesync.service"
	for s in PREIN POSTIN PREUN POSTUN; do
		rpm -qp --qf "%{$s}" "$rpm" 2>/dev/null >"$root/tmp/rpm-$s"
	done
	scriptlet() { # scriptlet NAME ARG
		in_root sh "/tmp/rpm-$1" "$2" >>"$work/rpm-scripts.log" 2>&1 || fail "rpm %$1 $2 exited $?"
	}
	scriptlet PREIN 1
	scriptlet POSTIN 1
	in_root getent passwd timesync | grep -q ':/var/lib/timesync:/usr/sbin/nologin$' || fail "rpm %pre made no user timesync"
	[ -L "$root/etc/systemd/system/multi-user.target.wants/timesync.service" ] || fail "rpm %post did not enable timesync.service"
	[ ! -e "$root/$timesyncd_link" ] || fail "rpm %post left systemd-timesyncd enabled"
	scriptlet PREUN 0
	scriptlet POSTUN 0
	[ ! -e "$root/etc/systemd/system/multi-user.target.wants/timesync.service" ] || fail "rpm %preun did not disable timesync.service"
	[ -L "$root/$timesyncd_link" ] || fail "rpm %preun did not enable systemd-timesyncd again"
	cat "$work/rpm-scripts.log"
	for w in "created the system user and group timesync" "stopped and disabled systemd-timesyncd" \
		"CONFLICT: chrony.service is installed" "enabled timesync.service" "enabled systemd-timesyncd again"; do
		grep -qF "$w" "$work/rpm-scripts.log" || fail "the rpm scriptlets did not say: $w"
	done
	ok "the .rpm's scriptlets: user, timesyncd disabled and restored, chrony named, unit enabled and disabled"
fi

if [ "$fails" -gt 0 ]; then
	echo "deb test: $fails failure(s)" >&2
	exit 1
fi
echo "deb test: PASS"
