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

.PHONY: all build demo once test unit vet cross test-peers bench bench-once bench-accuracy bench-serve bench-idle test-vm build-gui test-gui cross-gui bench-gui gui-screenshots clean

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
test: vet unit cross test-peers test-vm test-gui cross-gui

unit:
	$(GO) test -count=1 ./...

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

clean:
	rm -rf $(BIN)
