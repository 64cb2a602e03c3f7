package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	kservice "github.com/kardianos/service"

	"github.com/timesync/timesync/service"
	"github.com/timesync/timesync/service/conflicts"
	"github.com/timesync/timesync/service/control"
	"github.com/timesync/timesync/service/control/client"
)

const serviceUsage = `Usage:
  timesync service install [--config FILE]   register the service with the OS (systemd,
                                             launchd, Windows services); it starts at boot
  timesync service uninstall                 remove that registration
  timesync service start|stop|restart        through the OS's service manager
  timesync service status                    is it running? (exit 0 only if so)
  timesync service run [--config FILE] [--socket PATH] [--dry-run] [--user NAME]
                                             run in the foreground (what the OS starts);
                                             started as root on Linux or macOS it keeps
                                             only the clock and runs the rest as NAME
                                             (default timesync, else nobody)
`

// The OS's service manager, replaced in tests: nothing a test runs may
// register or start a real service.
var (
	newSystemService = func(c *kservice.Config) (kservice.Service, error) {
		return service.NewSystemService(nil, c)
	}
	installSystemService = service.InstallSystemService
	detectConflicts      = conflicts.Detect
	geteuid              = os.Geteuid
)

// runService dispatches "timesync service …".
func runService(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("service needs a command: install, uninstall, start, stop, restart, status or run; see 'timesync service help'")
	}
	switch cmd := args[0]; cmd {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, serviceUsage)
		return nil
	case "run":
		return runServiceRun(args[1:], stdout, stderr)
	case "engine":
		// Not for users: the unprivileged half of "service run", which
		// the privileged parent starts with its descriptors.
		return runServiceEngine(args[1:], stderr)
	case "install":
		return runServiceInstall(args[1:], stdout)
	case "uninstall", "start", "stop", "restart", "status":
		fs := newFlagSet("service " + cmd)
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return usagef("service %s takes no arguments (got %q)", cmd, fs.Arg(0))
		}
		if cmd == "status" {
			return runServiceStatus(stdout)
		}
		return runServiceAction(cmd, stdout)
	default:
		return usagef("unknown service command %q; see 'timesync service help'", cmd)
	}
}

func runServiceInstall(args []string, stdout io.Writer) error {
	fs := newFlagSet("service install")
	configPath := fs.String("config", "", "configuration file the service reads")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("service install takes no arguments (got %q)", fs.Arg(0))
	}
	if err := needAdmin("install"); err != nil {
		return err
	}
	c, err := service.SystemConfig(service.SystemOptions{ConfigPath: *configPath})
	if err != nil {
		return err
	}
	if err := installSystemService(c); err != nil {
		return adminHint(err)
	}
	fmt.Fprintf(stdout, "installed the %s service: %s %s\n", c.Name, c.Executable, quoteArgs(c.Arguments))
	for _, cf := range activeConflicts() {
		fmt.Fprintf(stdout, "note: %s\n", cf.Line)
	}
	fmt.Fprintln(stdout, "start it with 'timesync service start' (it also starts at every boot)")
	return nil
}

// runServiceAction is uninstall, start, stop or restart.
func runServiceAction(action string, stdout io.Writer) error {
	if err := needAdmin(action); err != nil {
		return err
	}
	s, err := systemService()
	if err != nil {
		return err
	}
	do := map[string]func() error{"uninstall": s.Uninstall, "start": s.Start, "stop": s.Stop, "restart": s.Restart}[action]
	if err := do(); err != nil {
		return adminHint(fmt.Errorf("service %s: %w", action, err))
	}
	past := map[string]string{"uninstall": "uninstalled", "start": "started", "stop": "stopped", "restart": "restarted"}[action]
	fmt.Fprintf(stdout, "%s the timesync service\n", past)
	return nil
}

// runServiceStatus prints whether the service runs, and any other time
// service that would fight it; it fails unless the service is running.
func runServiceStatus(stdout io.Writer) error {
	s, err := systemService()
	if err != nil {
		return err
	}
	st, err := s.Status()
	for _, cf := range activeConflicts() {
		fmt.Fprintf(stdout, "warning: %s\n", cf.Line)
	}
	switch {
	case errors.Is(err, kservice.ErrNotInstalled):
		return errors.New("the timesync service is not installed; install it with 'timesync service install'")
	case err != nil:
		// The service manager could not say (no systemd running, a
		// container, …): ask the service itself before giving up.
		if serviceAnswers() {
			fmt.Fprintf(stdout, "timesync service: running (it answers on %s; %s could not tell: %v)\n", control.DefaultSocketPath(), s.Platform(), err)
			return nil
		}
		return fmt.Errorf("%s cannot tell whether the timesync service runs (%v), and nothing answers on %s: it is not running, or not installed ('timesync service install')", s.Platform(), err, control.DefaultSocketPath())
	case st == kservice.StatusRunning:
		fmt.Fprintln(stdout, "timesync service: running (details: 'timesync status')")
		return nil
	case st == kservice.StatusStopped:
		return errors.New("the timesync service is installed but stopped; start it with 'timesync service start'")
	}
	return errors.New("the state of the timesync service is unknown")
}

// serviceAnswers reports whether a service answers on the control socket.
var serviceAnswers = func() bool {
	c := client.New("")
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := c.Status(ctx)
	return err == nil
}

func systemService() (kservice.Service, error) {
	c, err := service.SystemConfig(service.SystemOptions{})
	if err != nil {
		return nil, err
	}
	return newSystemService(c)
}

// activeConflicts asks, for at most two seconds, which other time services run.
func activeConflicts() []conflicts.Conflict {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return detectConflicts(ctx)
}

// needAdmin refuses early, with what to do, where changing services needs
// root; Windows says "Access is denied" itself (adminHint adds the rest).
func needAdmin(action string) error {
	if runtime.GOOS != "windows" && geteuid() != 0 {
		return fmt.Errorf("service %s needs root: run it with sudo", action)
	}
	return nil
}

func adminHint(err error) error {
	if errors.Is(err, os.ErrPermission) {
		if runtime.GOOS == "windows" {
			return fmt.Errorf("%w (run it from an Administrator prompt)", err)
		}
		return fmt.Errorf("%w (run it with sudo)", err)
	}
	return err
}

func quoteArgs(args []string) string {
	s := ""
	for i, a := range args {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%q", a)
	}
	return s
}
