//go:build linux

package main

// Privilege separation with real processes: "timesync service run"
// started as root (the tests run as root; otherwise they skip).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/timesync/timesync/internal/ntptest"
	"github.com/timesync/timesync/internal/syncbuf"
	"github.com/timesync/timesync/service/control"
)

// procStatus reads /proc/PID/status into a map.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("process %d: %v", pid, err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

func waitChild(t *testing.T, parent, not int) int {
	t.Helper()
	var pid int
	waitFor(t, "the engine process", func() bool { pid = childOf(parent, not); return pid != 0 })
	return pid
}

// socketInodes returns the inodes of the sockets process pid holds.
func socketInodes(t *testing.T, pid int) map[string]bool {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]bool{}
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			in[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	return in
}

// udpInode returns the inode of the UDP socket bound to 127.0.0.1:port.
func udpInode(t *testing.T, port int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("0100007F:%04X", port)
	for _, l := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) > 9 && f[1] == want {
			return f[9]
		}
	}
	return ""
}

func TestPrivsepEngineRunsUnprivileged(t *testing.T) {
	needRoot(t)
	cfg := ntptest.Config{Offset: 500 * time.Millisecond, Stratum: 1}
	var servers []*ntptest.Server
	var addrs []string
	for i := range 3 {
		srv, err := ntptest.Start(netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 57, byte(i + 1)}), 0).String(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		servers = append(servers, srv)
		addrs = append(addrs, srv.Addr())
	}
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	// A descriptor the service inherits (say, from a careless shell)
	// must not reach the engine.
	leak, err := os.CreateTemp("", "timesync-leak-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(leak.Name())
	defer leak.Close()
	// (fds 3 to 8 in the parent: the engine's own 3 to 7 are put over
	// the first five, so 8 is the one that could get through.)
	serviceExtraFiles = []*os.File{leak, leak, leak, leak, leak, leak}
	s := startService(t, serverConf(addrs...)+fmt.Sprintf("tinker panic 2\nlisten 127.0.0.1:%d\n", port))
	serviceExtraFiles = nil
	if !strings.Contains(s.log.String(), "privilege separation") {
		t.Fatalf("started as root without privilege separation:\n%s", s.log.String())
	}
	parent := s.cmd.Process.Pid
	engine := waitChild(t, parent, 0)

	// The engine: not root, no capabilities, no new privileges, seccomp.
	es := procStatus(t, engine)
	for _, id := range append(strings.Fields(es["Uid"]), strings.Fields(es["Gid"])...) {
		if id == "0" {
			t.Errorf("engine runs with a root id: Uid %s Gid %s", es["Uid"], es["Gid"])
		}
	}
	for _, k := range []string{"CapEff", "CapPrm", "CapInh", "CapAmb"} {
		if es[k] != "0000000000000000" {
			t.Errorf("engine %s = %s, want none", k, es[k])
		}
	}
	if es["NoNewPrivs"] != "1" || es["Seccomp"] != "2" {
		t.Errorf("engine NoNewPrivs %s Seccomp %s, want 1 and 2 (filter)", es["NoNewPrivs"], es["Seccomp"])
	}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", engine))
	for _, fd := range fds {
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", engine, fd.Name())); l == leak.Name() {
			t.Errorf("the engine inherited the parent's descriptor of %s (fd %s)", l, fd.Name())
		}
	}
	if pl, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/8", parent)); pl != leak.Name() {
		t.Fatalf("the parent's fd 8 is %q, not the test's file: the check above proves nothing", pl)
	}
	// The parent keeps KILL, SETGID, SETUID, NET_BIND_SERVICE and SYS_TIME.
	ps := procStatus(t, parent)
	if testCgo {
		t.Logf("cgo build: the parent cannot drop its capabilities (CapEff %s); make unit tests a CGO_ENABLED=0 build", ps["CapEff"])
	} else if ps["CapEff"] != "00000000020004e0" || ps["CapBnd"] != "00000000020004e0" {
		t.Errorf("parent CapEff %s CapBnd %s, want 00000000020004e0 (kill, setgid, setuid, net_bind_service, sys_time)", ps["CapEff"], ps["CapBnd"])
	}

	// The NTP server's socket is the engine's, not the parent's.
	var inode string
	waitFor(t, "the NTP socket", func() bool { inode = udpInode(t, port); return inode != "" })
	if !socketInodes(t, engine)[inode] {
		t.Errorf("the engine does not hold the NTP socket (inode %s)", inode)
	}
	if socketInodes(t, parent)[inode] {
		t.Errorf("the parent still holds the NTP socket (inode %s)", inode)
	}

	// Status for anyone; changes for root, through the engine.
	waitFor(t, "the first clock update", func() bool { return statusJSON(t, s.socket, true)["last_sync"] != nil })
	if r := runCommand(t, false, "servers", "add", "127.0.57.9:12300", "--socket", s.socket); r.code != 0 {
		t.Fatalf("servers add as root: exit %d %s", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(s.config); !strings.Contains(string(b), "server 127.0.57.9:12300") {
		t.Errorf("the parent did not save the change:\n%s", b)
	}
	// Changing where the drift file goes needs a root edit of the file.
	if r := runCommand(t, false, "servers", "remove", "127.0.57.9:12300", "--socket", s.socket); r.code != 0 {
		t.Fatalf("servers remove: exit %d %s", r.code, r.stderr)
	}

	// A step beyond the panic threshold (2 s) waits for an administrator,
	// and the parent allows it only with the confirmation token.
	for _, srv := range servers {
		srv.SetConfig(ntptest.Config{Offset: 5500 * time.Millisecond, Stratum: 1})
	}
	var st map[string]any
	waitFor(t, "the held correction", func() bool {
		runCommand(t, false, "sync", "--socket", s.socket)
		st = statusJSON(t, s.socket, false)
		return st["pending_step_seconds"] != nil
	})
	req, _ := http.NewRequest("POST", "http://timesync/v1/sync", strings.NewReader(`{"confirm": true}`))
	resp, err := rawHTTP(s.socket).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var eb control.ErrorBody
	json.NewDecoder(resp.Body).Decode(&eb)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(eb.Error, "confirmation token") {
		t.Errorf("confirm without the token: %d %q, want 403 naming the token", resp.StatusCode, eb.Error)
	}
	tokPath := control.ConfirmTokenPath(s.socket)
	tok1, err := os.ReadFile(tokPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(tokPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("token mode %v, want 0600 (no control group)", fi.Mode().Perm())
	}
	if r := runCommand(t, true, "sync", "--confirm", "--socket", s.socket); r.code == 0 {
		t.Errorf("sync --confirm as uid 65534 succeeded")
	}
	if r := runCommand(t, false, "sync", "--confirm", "--socket", s.socket); r.code != 0 {
		t.Fatalf("sync --confirm as root: exit %d %s", r.code, r.stderr)
	}
	waitFor(t, "the confirmed step", func() bool {
		st = statusJSON(t, s.socket, false)
		// Beyond the panic threshold past the first 0.5 s step (the
		// discipline corrects what its filter made of the jump; the
		// rest follows its ordinary course).
		c, ok := st["dry_run_correction_seconds"].(float64)
		return ok && c > 0.5+2
	})
	if tok2, _ := os.ReadFile(tokPath); bytes.Equal(tok1, tok2) {
		t.Error("the token did not change after it allowed a step")
	}

	// kill -9 of the engine: the parent starts another within seconds.
	syscall.Kill(engine, syscall.SIGKILL)
	start := time.Now()
	engine2 := waitChild(t, parent, engine)
	waitFor(t, "status from the new engine", func() bool {
		r := runCommand(t, true, "status", "--json", "--socket", s.socket)
		return r.code == 0
	})
	t.Logf("engine %d killed; engine %d answering after %v", engine, engine2, time.Since(start).Round(10*time.Millisecond))
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the engine came back after %v, want within a few seconds", took)
	}
	if u := procStatus(t, engine2)["Uid"]; strings.HasPrefix(u, "0") {
		t.Errorf("restarted engine Uid %s", u)
	}

	// kill -9 of the parent: the engine does not outlive it.
	syscall.Kill(parent, syscall.SIGKILL)
	<-s.done
	s.done <- nil
	waitFor(t, "the engine to exit with its parent", func() bool {
		return syscall.Kill(engine2, 0) == syscall.ESRCH
	})
}

// A binary the engine's user cannot reach (a build in root's home) runs
// the engine from a copy beside the control socket; when that directory
// cannot serve (private, or mounted noexec as /run often is), from a copy
// in a directory of its own in the temporary directory; when neither can,
// the service says so in words instead of failing to exec.
func TestPrivsepEngineCopy(t *testing.T) {
	needRoot(t)
	private, err := os.MkdirTemp("", "timesync-private-") // 0700
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(private)
	data, err := os.ReadFile(commandBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(private, "timesync")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(private, "timesync.conf")
	if err := os.WriteFile(conf, []byte("# no servers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(socket, tmpdir string) (*exec.Cmd, *syncbuf.Buffer, chan error) {
		cmd := exec.Command(bin, "service", "run", "--dry-run", "--config", conf, "--socket", socket)
		cmd.Env = append(os.Environ(), reexecEnv+"=1", "TMPDIR="+tmpdir)
		log := &syncbuf.Buffer{}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-done
			done <- nil
		})
		return cmd, log, done
	}
	// runs starts the service, checks that its engine runs a copy in
	// want, stops it and checks that the copy (and want, unless keep)
	// is gone.
	runs := func(name, socket, tmpdir, want string, keep bool) {
		t.Helper()
		cmd, log, done := run(socket, tmpdir)
		waitFor(t, name+": the engine", func() bool { return strings.Contains(log.String(), "engine running") })
		m := regexp.MustCompile(`the engine runs a copy.* copy=(\S+)`).FindStringSubmatch(log.String())
		if m == nil || !strings.HasPrefix(m[1], want) {
			t.Errorf("%s: want a copy in %s:\n%s", name, want, log.String())
		}
		cmd.Process.Signal(syscall.SIGTERM)
		done <- <-done
		if m != nil {
			if _, err := os.Stat(m[1]); err == nil {
				t.Errorf("%s: the copy %s was left behind", name, m[1])
			}
			if _, err := os.Stat(filepath.Dir(m[1])); err == nil && !keep {
				t.Errorf("%s: the copy's directory %s was left behind", name, filepath.Dir(m[1]))
			}
		}
	}
	pubTmp := publicDir(t)
	pub := publicDir(t)
	runs("socket's directory reachable", filepath.Join(pub, "control.sock"), pubTmp, pub, true)
	runs("socket's directory private", filepath.Join(private, "run", "control.sock"), pubTmp, filepath.Join(pubTmp, "timesync-engine-"), false)
	noexec := publicDir(t)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "noexec,mode=0755,size=16m", "tmpfs", noexec).CombinedOutput(); err != nil {
		t.Logf("cannot mount a noexec tmpfs (%v: %s): that case is not tested", err, bytes.TrimSpace(out))
	} else {
		t.Cleanup(func() { exec.Command("umount", noexec).Run() })
		runs("socket's directory noexec", filepath.Join(noexec, "control.sock"), pubTmp, filepath.Join(pubTmp, "timesync-engine-"), false)
	}

	// Neither: one clear line, and no copy left.
	_, log, done := run(filepath.Join(private, "run", "control.sock"), private)
	select {
	case err := <-done:
		done <- err
		if err == nil {
			t.Fatalf("exit status 0 with an engine that cannot run:\n%s", log.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("still running after 20 s with an engine that cannot run:\n%s", log.String())
	}
	if !strings.Contains(log.String(), "cannot execute") || !strings.Contains(log.String(), "not searchable by") {
		t.Errorf("want the reason in words, got:\n%s", log.String())
	}
	for _, pat := range []string{filepath.Join(private, "run", ".timesync-engine-*"), filepath.Join(private, "timesync-engine-*")} {
		if left, _ := filepath.Glob(pat); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	}
}

// textMapping is process pid's mapping of the code (perms "r-xp") or of
// the read-only data ("r--p") on huge pages (internal/hugetext), from its
// smaps: ok is false if it has none.
type textMapping struct {
	inode               string
	rss, pss, pmdMapped int // kB
}

func hugeText(t *testing.T, pid int, perms string) (m textMapping, ok bool) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		t.Fatal(err)
	}
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			in = len(f) >= 6 && strings.HasPrefix(f[5], "/memfd:timesync-text") && f[1] == perms
			if in {
				m.inode, ok = f[4], true
			}
			continue
		}
		if in && len(f) >= 2 {
			n, _ := strconv.Atoi(f[1])
			switch f[0] {
			case "Rss:":
				m.rss += n
			case "Pss:":
				m.pss += n
			case "ShmemPmdMapped:", "FilePmdMapped:":
				m.pmdMapped += n
			}
		}
	}
	return m, ok
}

// The service's code is on huge pages (internal/hugetext); the engine maps
// the parent's copy, so both are charged half of one set of pages; the
// one-process mode moves its own; TIMESYNC_HUGE_TEXT=off leaves the code
// where it was.
func TestServiceCodeOnHugePages(t *testing.T) {
	needRoot(t)
	const conf = "# no servers\n"
	s := startService(t, conf)
	parent := s.cmd.Process.Pid
	engine := waitChild(t, parent, 0)
	waitFor(t, "the engine to run", func() bool { return strings.Contains(s.log.String(), "engine running") })
	if m := regexp.MustCompile(`code left on 4 KiB pages reason="?([^"\n]*)`).FindStringSubmatch(s.log.String()); m != nil && strings.Contains(m[1], "not supported") {
		t.Skipf("not on this kernel: %s", m[1])
	}
	if !strings.Contains(s.log.String(), "code on huge pages") {
		t.Fatalf("the parent did not say where its code is:\n%s", s.log.String())
	}
	for _, part := range []struct{ name, perms string }{{"code", "r-xp"}, {"read-only data", "r--p"}} {
		pm, ok := hugeText(t, parent, part.perms)
		if !ok {
			t.Fatalf("the parent's %s is not on huge pages", part.name)
		}
		em, ok := hugeText(t, engine, part.perms)
		if !ok {
			t.Fatalf("the engine did not map the parent's %s:\n%s", part.name, s.log.String())
		}
		t.Logf("%s: parent %+v, engine %+v", part.name, pm, em)
		if pm.inode != em.inode {
			t.Errorf("%s: parent and engine map different copies (inodes %s and %s)", part.name, pm.inode, em.inode)
		}
		for who, m := range map[string]textMapping{"parent": pm, "engine": em} {
			if m.pmdMapped < 2048 || m.pmdMapped != m.rss {
				t.Errorf("%s's %s: %d of %d kB on huge pages, want all of it and at least 2048", who, part.name, m.pmdMapped, m.rss)
			}
			if m.pss > m.rss/2+8 {
				t.Errorf("%s's %s: Pss %d kB of Rss %d: the copy is not shared", who, part.name, m.pss, m.rss)
			}
		}
	}
	stopService(t, s)

	one := startService(t, conf, "--dry-run", "--single-process")
	for _, perms := range []string{"r-xp", "r--p"} {
		if m, ok := hugeText(t, one.cmd.Process.Pid, perms); !ok || m.pmdMapped < 2048 {
			t.Errorf("one process: %s on huge pages %v (%+v), want it there", perms, ok, m)
		}
	}
	stopService(t, one)

	t.Setenv("TIMESYNC_HUGE_TEXT", "off")
	off := startService(t, conf)
	engine = waitChild(t, off.cmd.Process.Pid, 0)
	waitFor(t, "the engine to run", func() bool { return strings.Contains(off.log.String(), "engine running") })
	for who, pid := range map[string]int{"parent": off.cmd.Process.Pid, "engine": engine} {
		for _, perms := range []string{"r-xp", "r--p"} {
			if m, ok := hugeText(t, pid, perms); ok {
				t.Errorf("TIMESYNC_HUGE_TEXT=off: the %s's %s mapping is on huge pages anyway (%+v)", who, perms, m)
			}
		}
	}
	if !strings.Contains(off.log.String(), "code left on 4 KiB pages (TIMESYNC_HUGE_TEXT)") {
		t.Errorf("TIMESYNC_HUGE_TEXT=off is not in the log:\n%s", off.log.String())
	}
}

// stopService stops s with SIGTERM and waits for it.
func stopService(t *testing.T, s *runningService) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
	case <-time.After(10 * time.Second):
		t.Fatalf("the service did not stop within 10 s\n%s", s.log.String())
	}
}
