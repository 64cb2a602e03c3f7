// Command timesync is the timesync CLI: one-shot synchronisation
// (timesync --once, like chronyd -q or ntpdate) and configuration tools.
// It is a thin layer: flags → the packages under service/ and platform/.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the work could not be done (no trustworthy time, no privilege)
	exitUsage = 2 // bad input: flags, addresses, configuration
)

// usageError marks errors caused by what the user typed.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

const usage = `timesync keeps this computer's clock right.

Usage:
  timesync --once [--dry-run] [--json] [--verbose] [--server HOST[:PORT]]... [--config FILE] [--timeout DUR]
        query the servers, then step or slew the clock once and exit
        (like chronyd -q / ntpd -q / ntpdate; --dry-run only measures)
  timesync service run [--config FILE] [--socket PATH] [--dry-run] [--verbose]
        run the service in the foreground (like chronyd -d; --dry-run
        measures only, like chronyd -x); SIGTERM stops it
  timesync service install|uninstall|start|stop|restart|status
        register the service with systemd, launchd or Windows and control
        it ('timesync service help')
  timesync status [--json]          the service's synchronization state and why (chronyc tracking)
  timesync sources [--json]         its time sources (chronyc sources, ntpq -p)
  timesync servers list|add|remove [pool] ADDRESS[:PORT] [iburst] [prefer] [minpoll N] [maxpoll N]
  timesync restrict list|add|remove default|ADDRESS[/BITS] [mask MASK] [FLAG]...
  timesync sync [--confirm]         measure now (a burst); --confirm allows a
                                    correction held past the panic threshold
        these take --socket PATH (default $TIMESYNC_SOCKET, else the
        system's socket); changes need root or the control-group
  timesync config check [FILE]      check a configuration file
  timesync config import FILE       convert an ntp.conf, chrony.conf or timesyncd.conf
  timesync version, --version       version, commit and Go version of this build
  timesync help                     this text

--once options:
  --dry-run       measure and report only; never change the clock
  --json          print the result as one JSON object
  --verbose       log what is being done to stderr
  --server H[:P]  a server to query (repeatable; port 123 by default)
  --config FILE   take servers and thresholds from FILE
  --timeout DUR   wait for the servers at most DUR (default 5s; needs a
                  unit: 500ms, 5s, 1m). Servers that answer end the run
                  sooner: one that has answered gets only its first burst,
                  and a silent one is waited for only while it could still
                  change the outcome.

Without --server, --once uses the servers of --config FILE, else of the
system configuration, else the default pool.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a command line and returns the exit code; every failure
// is reported as one line on stderr.
func run(args []string, stdout, stderr io.Writer) int {
	err := dispatch(args, stdout, stderr)
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "timesync: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFail
}

var errHelp = errors.New("help requested")

func dispatch(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("no command given; try 'timesync --once --dry-run' or 'timesync help'")
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return errHelp
	case "config":
		return runConfig(args[1:], stdout, stderr)
	case "service":
		return runService(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		return runVersion(args[1:], stdout)
	case "status":
		return runStatus(args[1:], stdout)
	case "sources":
		return runSources(args[1:], stdout)
	case "servers":
		return runServers(args[1:], stdout)
	case "restrict":
		return runRestrict(args[1:], stdout)
	case "sync":
		return runSync(args[1:], stdout)
	}
	for _, a := range args {
		if a == "--once" || a == "-once" {
			return runOnce(args, stdout, stderr)
		}
	}
	return usagef("unknown command %q; see 'timesync help'", args[0])
}
