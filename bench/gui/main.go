// Command gui is make bench-gui: the idle cost of the tray app under
// Xvfb with a private D-Bus session bus and a StatusNotifierWatcher of
// its own, against timesync service run --dry-run on loopback servers
// (minpoll 4: a status event every 16 s), side by side in one session
// with the smallest fyne apps:
//
//	timesync-gui, tray only          (systray process alone)
//	timesync-gui, status window open (tray + window process)
//	minimal fyne app, tray only      (fyne's GL loop, no window)
//	minimal fyne app, window + tray
//	minimal fyne app, window only
//
// CPU is every thread's time on a CPU (/proc/PID/task/*/schedstat) over
// the measured interval, RSS is VmRSS at its end, and memory the distinct
// resident pages of an app's processes together (the tray and the window
// process share the binary's and the libraries' pages: summed VmRSS
// counts them twice; read from /proc/PID/pagemap, as root). It also counts the
// D-Bus signals the tray item sends (a redraw costs the tray host work)
// against the status events the service published.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/timesync/timesync/bench/internal/procstat"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"bufio"

	"github.com/godbus/dbus/v5"

	"github.com/timesync/timesync/service/control"
	"github.com/timesync/timesync/service/control/client"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type proc struct {
	name string
	cmd  *exec.Cmd
	pids func() []int // the processes measured (the window process appears later)
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-gui", flag.ContinueOnError)
	bin := fs.String("bin", "bin", "directory with timesync, timesync-gui, ntptestd and timesync-gui-minimal")
	dur := fs.Duration("duration", 60*time.Second, "measured idle interval")
	settle := fs.Duration("settle", 10*time.Second, "wait before measuring")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := bench(*bin, *dur, *settle, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "bench-gui:", err)
		return 1
	}
	return 0
}

var started []*exec.Cmd

func start(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	started = append(started, cmd)
	return nil
}

func stopAll() {
	for i := len(started) - 1; i >= 0; i-- {
		procstat.Stop(started[i], 5*time.Second)
	}
}

func fd3(cmd *exec.Cmd) (string, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	cmd.ExtraFiles = []*os.File{w}
	if err := start(cmd); err != nil {
		return "", err
	}
	w.Close()
	ch := make(chan string, 1)
	go func() { s, _ := bufio.NewReader(r).ReadString('\n'); ch <- strings.TrimSpace(s) }()
	select {
	case s := <-ch:
		return s, nil
	case <-time.After(20 * time.Second):
		return "", fmt.Errorf("%s wrote nothing on fd 3", cmd.Path)
	}
}

// watcher owns org.kde.StatusNotifierWatcher and counts the signals of
// the items that register.
type watcher struct {
	conn  *dbus.Conn
	items chan string
}

func (w *watcher) RegisterStatusNotifierItem(sender dbus.Sender, path string) *dbus.Error {
	w.items <- string(sender)
	return nil
}

func bench(bin string, dur, settle time.Duration, stdout, progress io.Writer) error {
	defer stopAll()
	dir, err := os.MkdirTemp("", "benchgui")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ntp := exec.Command(filepath.Join(bin, "ntptestd"), "-servers", "3", "-base", "127.0.0.81", "-port", "12381", "-stratum", "2", "-jitter", "200us")
	if err := start(ntp); err != nil {
		return err
	}
	conf := filepath.Join(dir, "timesync.conf")
	os.WriteFile(conf, []byte("server 127.0.0.81:12381 iburst minpoll 4 maxpoll 4\nserver 127.0.0.82:12381 iburst minpoll 4 maxpoll 4\nserver 127.0.0.83:12381 iburst minpoll 4 maxpoll 4\n"), 0o644)
	sock := filepath.Join(dir, "control.sock")
	if err := start(exec.Command(filepath.Join(bin, "timesync"), "service", "run", "--dry-run", "--config", conf, "--socket", sock)); err != nil {
		return err
	}
	display, err := fd3(exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1280x960x24", "-nolisten", "tcp"))
	if err != nil {
		return err
	}
	bus, err := fd3(exec.Command("dbus-daemon", "--session", "--nofork", "--print-address=3"))
	if err != nil {
		return err
	}
	conn, err := dbus.Connect(bus)
	if err != nil {
		return err
	}
	defer conn.Close()
	w := &watcher{conn: conn, items: make(chan string, 16)}
	conn.Export(w, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher")
	if rep, err := conn.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue); err != nil || rep != dbus.RequestNameReplyPrimaryOwner {
		return fmt.Errorf("owning the watcher name: %v %v", rep, err)
	}
	env := func(name string) []string {
		home := filepath.Join(dir, name)
		os.MkdirAll(home, 0o700)
		return append(os.Environ(), "DISPLAY=:"+display, "DBUS_SESSION_BUS_ADDRESS="+bus, "HOME="+home, "XDG_RUNTIME_DIR="+home, "LANG=en_US.UTF-8")
	}
	var procs []proc
	add := func(name string, cmd *exec.Cmd, withChildren bool) error {
		cmd.Env = env(strings.ReplaceAll(name, " ", "-"))
		if err := start(cmd); err != nil {
			return err
		}
		pid := cmd.Process.Pid
		procs = append(procs, proc{name: name, cmd: cmd, pids: func() []int {
			if withChildren {
				return append([]int{pid}, children(pid)...)
			}
			return []int{pid}
		}})
		return nil
	}
	gui := filepath.Join(bin, "timesync-gui")
	min := filepath.Join(bin, "timesync-gui-minimal")
	if err := add("timesync-gui, tray only", exec.Command(gui, "--socket", sock, "--instance", filepath.Join(dir, "a.sock")), true); err != nil {
		return err
	}
	// Count the first item's signals: it is the tray-only timesync-gui.
	var trayItem string
	select {
	case trayItem = <-w.items:
	case <-time.After(30 * time.Second):
		return errors.New("timesync-gui's tray item did not register")
	}
	if err := add("timesync-gui, status window open", exec.Command(gui, "--status", "--socket", sock, "--instance", filepath.Join(dir, "b.sock")), true); err != nil {
		return err
	}
	if err := add("minimal fyne app, tray only", exec.Command(min, "-window=false"), false); err != nil {
		return err
	}
	if err := add("minimal fyne app, window + tray", exec.Command(min), false); err != nil {
		return err
	}
	if err := add("minimal fyne app, window only", exec.Command(min, "-tray=false"), false); err != nil {
		return err
	}
	fmt.Fprintf(progress, "bench-gui: all started; settling %v, then measuring %v\n", settle, dur)
	time.Sleep(settle)

	conn.AddMatchSignal(dbus.WithMatchSender(trayItem))
	sigs := make(chan *dbus.Signal, 1024)
	conn.Signal(sigs)
	statusEvents := countStatusEvents(sock, dur)

	cpu0 := map[int]time.Duration{}
	for _, p := range procs {
		for _, pid := range p.pids() {
			cpu0[pid], _ = procstat.CPUTime(pid)
		}
	}
	t0 := time.Now()
	time.Sleep(dur)
	elapsed := time.Since(t0)
	nsig := len(sigs)
	type row struct {
		name     string
		cpu      float64 // % of one core
		rssMB    float64
		windowMB float64
		distinct float64 // MB of distinct resident pages of the processes together
		nproc    int
	}
	var rows []row
	for _, p := range procs {
		var cpu time.Duration
		var rss int64
		pids := p.pids()
		var winRSS int64
		for i, pid := range pids {
			c, err := procstat.CPUTime(pid)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			cpu += c - cpu0[pid]
			r, _ := procstat.RSS(pid)
			rss += r
			if i > 0 {
				winRSS += r
			}
		}
		d, err := procstat.DistinctResident(pids...)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		rows = append(rows, row{p.name, 100 * cpu.Seconds() / elapsed.Seconds(), mb(rss), mb(winRSS), mb(d), len(pids)})
	}
	ev := <-statusEvents
	fmt.Fprintf(stdout, "Idle for %.0f s under Xvfb, all side by side (CPU: every thread's schedstat; RSS: VmRSS, processes summed; memory: distinct resident pages of the processes together, each shared page once)\n", elapsed.Seconds())
	fmt.Fprintf(stdout, "%-36s %10s %10s %10s %6s\n", "", "CPU %core", "RSS MB", "memory MB", "procs")
	for _, r := range rows {
		fmt.Fprintf(stdout, "%-36s %10.3f %10.1f %10.1f %6d\n", r.name, r.cpu, r.rssMB, r.distinct, r.nproc)
	}
	tray, win, minWin, minTray := rows[0], rows[1], rows[4], rows[2]
	// The app with its status window open is both its processes, for
	// CPU as for memory.
	fmt.Fprintf(stdout, "\nstatus window open (tray and window processes): %.3f %%core; minimal fyne window app %.3f %%core: ratio %.2f (window-plus-tray app %.3f %%core: %.2f)\n",
		win.cpu, minWin.cpu, win.cpu/minWin.cpu, rows[3].cpu, win.cpu/rows[3].cpu)
	fmt.Fprintf(stdout, "status window open, tray and window processes together: %.1f MB (VmRSS summed %.1f MB, the window process's %.1f; the minimal fyne window app %.1f MB)\n",
		win.distinct, win.rssMB, win.windowMB, minWin.distinct)
	fmt.Fprintf(stdout, "tray-only timesync-gui vs the minimal fyne tray app: %.3f vs %.3f %%core, %.1f vs %.1f MB\n", tray.cpu, minTray.cpu, tray.rssMB, minTray.rssMB)
	fmt.Fprintf(stdout, "tray item D-Bus signals during the interval: %d, for %d status events of the service\n", nsig, ev)
	ok := true
	check := func(what string, pass bool) {
		v := "ok"
		if !pass {
			v, ok = "MISSED", false
		}
		fmt.Fprintf(stdout, "target %-60s %s\n", what, v)
	}
	check("tray only ≤ 0.1 % of a core", tray.cpu <= 0.1)
	check("tray only ≤ 40 MB", tray.rssMB <= 40)
	check("status window open ≤ 1.2 × the minimal fyne window app's CPU", win.cpu <= 1.2*minWin.cpu)
	// The app with its status window open is both processes: the
	// pages they hold, each once.
	check("status window open ≤ 150 MB (both processes)", win.distinct <= 150)
	if !ok {
		return errors.New("a target was missed")
	}
	return nil
}

// countStatusEvents counts the service's status events for d.
func countStatusEvents(sock string, d time.Duration) chan int {
	out := make(chan int, 1)
	go func() {
		c := client.New(sock)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		n := -1 // the first event is the current state
		c.Watch(ctx, func(ev control.Event) error {
			if ev.Kind == control.EventStatus {
				n++
			}
			return nil
		})
		out <- max(n, 0)
	}()
	return out
}

// children lists pid's child processes (forked by any of its threads).
func children(pid int) []int {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }
