#!/bin/sh
# The quick start's demonstration, safe on any machine: three test NTP
# servers on loopback (the third one 3 s off, a falseticker), then
# `timesync --once --dry-run` against them, then the service in the
# foreground (`timesync service run --dry-run`) with `timesync status` and
# `timesync sources` read through its control socket. Nothing here changes
# the clock or leaves loopback; every process it starts is ended by PID.
set -eu
bin=${BIN:-bin}
dir=$(mktemp -d "${TMPDIR:-/tmp}/timesync-demo.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

"$bin/ntptestd" -servers 3 -base 127.0.99.1 -port 12399 -offset 0.25,0.25,3.25 \
	-delay 1ms -jitter 500us -stratum 2 >"$dir/ntptestd.log" 2>&1 &
pids="$pids $!"
sleep 0.5

echo "== timesync --once --dry-run: three loopback test servers, the third 3 s off"
"$bin/timesync" --once --dry-run --server 127.0.99.1:12399 --server 127.0.99.2:12399 --server 127.0.99.3:12399 || true

cat >"$dir/timesync.conf" <<EOC
# the demo's servers, polled every 16 s
server 127.0.99.1:12399 iburst minpoll 4 maxpoll 4
server 127.0.99.2:12399 iburst minpoll 4 maxpoll 4
server 127.0.99.3:12399 iburst minpoll 4 maxpoll 4
EOC
echo
echo "== timesync service run --dry-run (a virtual clock, as chronyd -x), then status and sources"
"$bin/timesync" service run --dry-run --config "$dir/timesync.conf" --socket "$dir/control.sock" >"$dir/service.log" 2>&1 &
pids="$pids $!"
sleep 12
TIMESYNC_SOCKET="$dir/control.sock"
export TIMESYNC_SOCKET
"$bin/timesync" status
echo
"$bin/timesync" sources
