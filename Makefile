# timesync — build, test and benchmark entry points. See README.md.
SHELL := /bin/bash
GO    ?= go
BIN   := bin
SERVERS ?=
# Version stamping: timesync --version shows these (GOFLAGS may disable
# Go's own VCS stamping, so the build passes them explicitly).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: all build demo once test unit vet cross test-peers bench bench-once bench-accuracy bench-serve bench-idle test-vm build-gui test-gui cross-gui bench-gui gui-screenshots dist test-packages build-macos build-macos-app clean

all: build

## build: the timesync CLI/service and the developer tools, static (CGO_ENABLED=0)
build:
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ $$($(GO) list ./cmd/... | grep -v '/cmd/timesync-gui$$')

## demo: the quick start — loopback test servers, --once --dry-run, the service (--dry-run) and its status
demo: build
	BIN=$(BIN) scripts/demo.sh

## once: measure this machine's clock once, changing nothing.
##   make once SERVERS="time.example.org 192.0.2.1:123"  (default: the configured or default pool)
once: build
	./$(BIN)/timesync --once --dry-run $(foreach s,$(SERVERS),--server $(s))

## test: everything CI runs — vet, unit and integration tests, cross builds, the VM test
test: vet unit cross test-peers test-vm test-gui cross-gui test-packages

## unit: every Go test. CGO_ENABLED=0 as release builds of timesync are (the privilege-separated
## parent can drop its capabilities on every thread only without cgo); the tray app's command needs cgo.
unit:
	CGO_ENABLED=0 $(GO) test -count=1 $$(CGO_ENABLED=0 $(GO) list -e -f '{{if or .GoFiles .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./... | grep -v '/cmd/timesync-gui$$')
	$(GO) test -count=1 ./cmd/timesync-gui ./bench/gui/minimal

vet:
	@unformatted=$$(gofmt -l $$(find . -name '*.go' -not -path './.cache/*')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

## test-peers: --once against Debian's chronyd (-x) and ntpsec ntpd (no CAP_SYS_TIME, own network
## namespace), fetched with apt-get download and unpacked into .cache/peers, never installed
test-peers:
	TIMESYNC_PEERS_DIR="$$(scripts/peers.sh .cache/peers)" $(GO) test -count=1 -v ./test/peers

## cross: the pure-Go packages build for linux, macOS and Windows, amd64 and arm64
cross:
	GO=$(GO) scripts/cross.sh

## test-vm: boot a throwaway qemu guest; prove --once and the Linux driver on a real kernel
## (installs qemu-system-x86 if missing; kernel and busybox cached in .cache/vm; see test/vm/README.md)
test-vm:
	test/vm/run.sh

## bench: Go benchmarks of the hot paths
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## bench-once: timesync --once --dry-run vs Debian's chronyd -Q (unpacked into .cache/debs, never
## installed), same four loopback servers; prints median wall time and |error| of each and the ratios
bench-once:
	$(GO) run ./bench/once $(BENCH_ONCE_FLAGS)

## bench-idle: the idle service (timesync service run --dry-run) beside Debian's chronyd -x (unpacked
## into .cache/debs, never installed), both on the same 3 loopback servers at minpoll 4 maxpoll 4, for two
## minutes; prints CPU time (every thread's schedstat) and RSS of each and the ratios
bench-idle:
	$(GO) run ./bench/idle $(BENCH_IDLE_FLAGS)

## bench-serve: timesync's NTP server vs Debian's chronyd -x (allow, local stratum 2; unpacked into
## .cache/debs, never installed) on loopback: answered requests/s from 8 senders × 16 in flight with
## a 100-rule restrict table, and memory growth under a flood from 100,000 source addresses
bench-serve:
	$(GO) run ./bench/serve $(BENCH_SERVE_FLAGS)

## bench-accuracy: Scenario A (issue 3) through timesync-sim, both start offsets, 50 seeds (11-60), beside
## chrony 4.3 and ntpsec 1.2.2 under clknetsim; fails when a target is missed
bench-accuracy:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/timesync-sim ./cmd/timesync-sim
	$(GO) run ./bench/accuracy --sim $(BIN)/timesync-sim $(BENCH_ACCURACY_FLAGS)

## build-gui: bin/timesync-gui, the tray app with its windows (cgo: fyne's GL driver needs the X and
## GL headers that scripts/setup.sh installs). A CGO_ENABLED=0 build of it has the tray only.
## GUI_TAGS: no_emoji leaves out fyne's bundled colour emoji font (4 MB in the binary, and parsed
## again for every text style a window uses: ~14 MB of the window process); the windows show no emoji.
GUI_TAGS ?= no_emoji
build-gui:
	CGO_ENABLED=1 $(GO) build -tags '$(GUI_TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN)/timesync-gui ./cmd/timesync-gui

## test-gui: the GUI smoke test — the real timesync-gui under Xvfb with a private dbus-daemon and the
## test's own StatusNotifierWatcher, against timesync service run --dry-run on loopback ntptestd
## servers; reads the tray's dbusmenu, clicks it, screenshots the windows into .cache/gui-shots
test-gui: build build-gui
	TIMESYNC_GUI_SMOKE_BIN=$(CURDIR)/$(BIN) TIMESYNC_GUI_SHOTS=$(CURDIR)/.cache/gui-shots $(GO) test -count=1 -v ./gui/smoke

## cross-gui: timesync-gui for Windows amd64 (cgo through mingw-w64), bin/windows-amd64/timesync-gui.exe
cross-gui:
	CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc $(GO) build -tags '$(GUI_TAGS)' -ldflags '$(LDFLAGS) -H=windowsgui' -o $(BIN)/windows-amd64/timesync-gui.exe ./cmd/timesync-gui

## bench-gui: idle CPU (every thread's schedstat) and RSS of timesync-gui, tray only and with the status
## window open, beside the smallest fyne apps (tray only, window + tray, window), 60 s under Xvfb
bench-gui: build build-gui
	CGO_ENABLED=1 $(GO) build -o $(BIN)/timesync-gui-minimal ./bench/gui/minimal
	$(GO) run ./bench/gui -bin $(BIN) $(BENCH_GUI_FLAGS)

## gui-screenshots: the smoke test's screenshots into docs/gui for the README
gui-screenshots: test-gui
	mkdir -p docs/gui && cp .cache/gui-shots/*.png docs/gui/

## dist: every package that can be built on Linux, into dist/ (packaging/dist.sh): .deb and .rpm of
## timesync (amd64, arm64) and timesync-gui (amd64) with nfpm (pinned in packaging/tools/go.mod), the
## Windows installer (NSIS; signed with osslsigncode when SIGN_PKCS12=cert.p12 [SIGN_PASSWORD=…] is
## given), the Windows and macOS binaries, the launchd plists, SHA256SUMS. The package version comes
## from git describe (packaging/version.sh); PKG_VERSION=1.2.3 overrides it.
dist:
	GO=$(GO) COMMIT=$(COMMIT) $(if $(PKG_VERSION),VERSION=$(PKG_VERSION)) packaging/dist.sh

## test-packages: the .deb installed, upgraded, removed and purged in a throwaway Debian 12 root
## (debootstrap, cached in .cache/pkgtest; chroot, no daemon started) and the .rpm's scriptlets run
## there, the .rpm read with rpm, the Windows installer installed and uninstalled silently under Wine,
## its signing with a throwaway certificate (README: Install)
test-packages: build dist
	cd dist && sha256sum --quiet -c SHA256SUMS
	packaging/test/deb.sh dist
	packaging/test/rpm.sh dist
	NTPTESTD=$(CURDIR)/$(BIN)/ntptestd packaging/test/wine.sh dist
	packaging/test/sign.sh dist

## build-macos: on a Mac — bin/darwin/timesync (CLI and service) and bin/darwin/timesync-gui (cgo)
build-macos:
	@[ "$$(uname -s)" = Darwin ] || { echo "build-macos: run this on macOS (the tray needs cgo and Cocoa)"; exit 1; }
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/darwin/timesync ./cmd/timesync
	CGO_ENABLED=1 $(GO) build -tags '$(GUI_TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN)/darwin/timesync-gui ./cmd/timesync-gui

## build-macos-app: on a Mac — bin/darwin/timesync.app with fyne package (go run, pinned in
## packaging/tools/go.mod), timesync inside it; see the README's Install section
build-macos-app: build-macos
	cd packaging/tools && $(GO) build -o $(CURDIR)/$(BIN)/tools/fyne fyne.io/tools/cmd/fyne
	packaging/macos/app.sh $(BIN)/darwin $(BIN)/tools/fyne

clean:
	rm -rf $(BIN) dist
