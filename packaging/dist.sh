#!/bin/bash
# packaging/dist.sh (make dist): everything that can be built on Linux, into
# $DIST (default dist/):
#   timesync_VERSION_{amd64,arm64}.deb and .rpm, timesync-gui_VERSION_amd64.deb
#   and .rpm (nfpm, pinned in packaging/tools/go.mod);
#   timesync-VERSION-windows-amd64-setup.exe (NSIS), signed with osslsigncode
#   when SIGN_PKCS12 (a .p12/.pfx file) is given (SIGN_PASSWORD its password);
#   windows-amd64/timesync.exe and timesync-gui.exe;
#   darwin-{amd64,arm64}/timesync and macos/ (the LaunchDaemon and the tray's
#   LaunchAgent; the .app needs a Mac: make build-macos-app);
#   SHA256SUMS of all of them.
# Environment: GO, VERSION (package version), COMMIT.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
DIST=${DIST:-dist}
COMMIT=${COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
VERSION=${VERSION:-$(packaging/version.sh)}
ldflags="-X main.version=$VERSION -X main.commit=$COMMIT"

need() {
	command -v "$1" >/dev/null 2>&1 || { echo "dist: $1 is missing ($2; scripts/setup.sh installs it)" >&2; exit 1; }
}
need makensis "Debian's nsis"
need x86_64-w64-mingw32-gcc "Debian's gcc-mingw-w64-x86-64"

rm -rf "$DIST"
mkdir -p "$DIST"
echo "$VERSION" >"$DIST/VERSION"
echo "$COMMIT" >"$DIST/COMMIT"
echo "dist: version $VERSION, commit $COMMIT"

# Binaries. The CLI is pure Go (static); the tray needs cgo (fyne's GL
# driver): Linux amd64 with this machine's gcc, Windows with mingw-w64.
for t in linux/amd64 linux/arm64 windows/amd64 darwin/amd64 darwin/arm64; do
	os=${t%/*} arch=${t#*/}
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch $GO build -ldflags "$ldflags" -o "$DIST/$os-$arch/" ./cmd/timesync
done
# The tray app as make build-gui builds it: without fyne's emoji font
# (GUI_TAGS, no_emoji: 14 MB less for each window process).
gui_tags=${GUI_TAGS-no_emoji}
CGO_ENABLED=1 GOOS=linux GOARCH=amd64 $GO build -tags "$gui_tags" -ldflags "$ldflags" -o "$DIST/linux-amd64/timesync-gui" ./cmd/timesync-gui
CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc \
	$GO build -tags "$gui_tags" -ldflags "$ldflags -H=windowsgui" -o "$DIST/windows-amd64/timesync-gui.exe" ./cmd/timesync-gui

# The unit, plists and default configuration, rendered by the code.
# (LANG: fyne, imported for the tray's LaunchAgent, complains about "C".)
LANG=en_US.UTF-8 $GO run ./packaging/gen -o "$DIST/gen"

# .deb and .rpm.
nfpm=$(pwd)/bin/tools/nfpm
(cd packaging/tools && $GO build -o "$nfpm" github.com/goreleaser/nfpm/v2/cmd/nfpm)
pkg() { # pkg NAME ARCH
	for p in deb rpm; do
		out=$(VERSION=$VERSION ARCH=$2 DIST=$DIST "$nfpm" pkg --config "packaging/linux/$1.yaml" --packager $p --target "$DIST/" 2>&1) ||
			{ echo "$out" >&2; exit 1; }
		echo "dist: ${out##*created package: }"
	done
}
pkg timesync amd64
pkg timesync arm64
pkg timesync-gui amd64

# Windows installer, signed when a certificate is given.
setup="$DIST/timesync-$VERSION-windows-amd64-setup.exe"
makensis -V2 -NOCD -DVERSION="$VERSION" -DSRC="$DIST/windows-amd64" -DICON=assets/icons/timesync.ico \
	-DOUTFILE="$setup" packaging/windows/timesync.nsi
if [ -n "${SIGN_PKCS12:-}" ]; then
	packaging/windows/sign.sh "$setup"
fi
echo "dist: $setup"

# macOS: the binaries above and the launchd files; the .app is built on a Mac.
mkdir -p "$DIST/macos"
cp "$DIST/gen/darwin/org.timesync.timesync.plist" "$DIST/gen/darwin/org.timesync.gui.plist" "$DIST/macos/"

(cd "$DIST" && find . -type f ! -name SHA256SUMS ! -name VERSION ! -name COMMIT ! -path './gen/*' | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum >SHA256SUMS)
echo "dist: $DIST/SHA256SUMS"
