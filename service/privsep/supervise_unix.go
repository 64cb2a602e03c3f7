//go:build unix

package privsep

// supervise_unix.go: the parent runs the engine as a child process under
// its own user, answers it, and starts it again when it dies.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Engine descriptors: the engine finds its end of the socketpair and the
// control socket's listener here.
const (
	EngineConnFD     = 3
	EngineListenerFD = 4
	// EngineParentFD is the read end of a pipe whose other end only the
	// parent holds: it reads as end-of-file once the parent is gone.
	EngineParentFD = 5
	// EngineReplyFD is the engine's end of the socketpair on which the
	// parent answers (Parent.ServeSplit); requests go on EngineConnFD.
	EngineReplyFD = 6
	// EngineTextFD holds the parent's code on huge pages when the
	// supervisor has it (Supervisor.Text; internal/hugetext).
	EngineTextFD = 7
)

// User is who the engine runs as.
type User struct {
	Name     string
	UID, GID uint32
}

// LookupUser finds the engine's user: a name, or "UID[:GID]". When the
// default user does not exist it falls back to nobody, and says so in
// fallback.
func LookupUser(name string) (u User, fallback string, err error) {
	if name == "" {
		name = DefaultUser
	}
	if uid, gid, ok := strings.Cut(name, ":"); ok || isNumber(name) {
		if !ok {
			gid = uid
		}
		un, err1 := strconv.ParseUint(uid, 10, 32)
		gn, err2 := strconv.ParseUint(gid, 10, 32)
		if err1 != nil || err2 != nil {
			return User{}, "", fmt.Errorf("engine user %q: want a name or UID[:GID]", name)
		}
		u = User{Name: name, UID: uint32(un), GID: uint32(gn)}
	} else {
		pw, err := user.Lookup(name)
		if err != nil && name == DefaultUser {
			pw, err = user.Lookup("nobody")
			if err == nil {
				fallback = fmt.Sprintf("there is no user %q (the installers create it); the engine runs as nobody, which other daemons may share", DefaultUser)
			}
		}
		if err != nil {
			return User{}, "", fmt.Errorf("engine user %q: %w (create it — the packages run 'adduser --system --group timesync' — or name another with --user, or a UID:GID)", name, err)
		}
		un, err1 := strconv.ParseUint(pw.Uid, 10, 32)
		gn, err2 := strconv.ParseUint(pw.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			return User{}, "", fmt.Errorf("engine user %q has a non-numeric id", pw.Username)
		}
		u = User{Name: pw.Username, UID: uint32(un), GID: uint32(gn)}
	}
	if u.UID == 0 || u.GID == 0 {
		return User{}, "", fmt.Errorf("engine user %q is root: the engine must run unprivileged", name)
	}
	return u, fallback, nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

// Supervisor runs the engine and restarts it.
type Supervisor struct {
	Parent *Parent
	// Path and Args start the engine (Args without the program name);
	// Env is its environment.
	Path string
	Args []string
	Env  []string
	User User
	// Listener is the control socket, handed to each engine as
	// EngineListenerFD.
	Listener *os.File
	// Text, if set, is handed to each engine as EngineTextFD: the
	// sealed copy of the code it maps (internal/hugetext).
	Text *os.File
	// Stderr receives the engine's log (default os.Stderr).
	Stderr io.Writer
	Logger *slog.Logger
	// MinBackoff and MaxBackoff space restarts (default 1 s and 30 s);
	// an engine that ran StableAfter (default 1 min) starts again after
	// MinBackoff.
	MinBackoff, MaxBackoff, StableAfter time.Duration
	// StopTimeout is how long the engine has to stop after SIGTERM
	// (default 1.5 s) before it is killed.
	StopTimeout time.Duration

	// ReadyTimeout bounds how long the first engine may take to greet
	// the parent (default 10 s).
	ReadyTimeout time.Duration

	mu     sync.Mutex
	cmd    *exec.Cmd
	starts int
	ready  chan error // the first start's outcome
	hello  chan struct{}
}

// Ready returns a channel that receives, once, the outcome of the first
// start: nil when the engine greeted the parent, or why it did not.
func (s *Supervisor) Ready() <-chan error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready == nil {
		s.ready = make(chan error, 1)
	}
	return s.ready
}

// PID reports the running engine's process id (0 if none).
func (s *Supervisor) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Starts reports how many times the engine was started.
func (s *Supervisor) Starts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.starts
}

// Run starts the engine and keeps it running until ctx is done; then it
// stops it (SIGTERM, then SIGKILL after StopTimeout) and returns. It
// returns early only if the first start fails.
func (s *Supervisor) Run(ctx context.Context) error {
	if s.Stderr == nil {
		s.Stderr = os.Stderr
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.MinBackoff <= 0 {
		s.MinBackoff = time.Second
	}
	if s.MaxBackoff <= 0 {
		s.MaxBackoff = 30 * time.Second
	}
	if s.StableAfter <= 0 {
		s.StableAfter = time.Minute
	}
	if s.StopTimeout <= 0 {
		s.StopTimeout = 1500 * time.Millisecond
	}
	if s.ReadyTimeout <= 0 {
		s.ReadyTimeout = 10 * time.Second
	}
	s.Ready()
	ready := s.ready
	s.hello = make(chan struct{}, 1)
	s.Parent.OnHello = func() {
		select {
		case s.hello <- struct{}{}:
		default:
		}
	}
	backoff := s.MinBackoff
	first := true
	for {
		began := time.Now()
		done, err := s.start()
		if first {
			// The service has started only once its engine answers:
			// one that cannot start or dies at once fails the start.
			if err == nil {
				select {
				case <-s.hello:
				case err = <-done:
					err = fmt.Errorf("the engine exited before it was ready: %s", exitText(err))
				case <-time.After(s.ReadyTimeout):
					s.stop(done)
					err = fmt.Errorf("the engine did not greet the parent within %v", s.ReadyTimeout)
				case <-ctx.Done():
					s.stop(done)
					err = ctx.Err()
				}
			}
			ready <- err
			if err != nil {
				return err
			}
			first = false
		}
		if err != nil {
			s.Logger.Error("cannot start the engine", "err", err)
		} else {
			select {
			case err := <-done:
				// A service manager that stops the whole group signals
				// the engine and the parent together: give the parent's
				// own stop a moment before calling this a failure.
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(100 * time.Millisecond):
				}
				if time.Since(began) >= s.StableAfter {
					backoff = s.MinBackoff // it ran well: not a crash loop
				}
				s.Logger.Error("the engine exited; the clock keeps its last frequency until it is back", "err", exitText(err), "restart_in", backoff.String())
			case <-ctx.Done():
				s.stop(done)
				return nil
			}
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil
		}
		backoff = min(2*backoff, s.MaxBackoff)
	}
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// start starts one engine and serves it; done receives its exit.
func (s *Supervisor) start() (<-chan error, error) {
	fds, err := socketpair()
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	mine := os.NewFile(uintptr(fds[0]), "privsep-parent")
	theirs := os.NewFile(uintptr(fds[1]), "privsep-engine")
	defer theirs.Close()
	fc, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	conn := fc.(*net.UnixConn)

	// The replies' socket: the parent's end is a bare descriptor, never
	// in the runtime's poller (Parent.ServeSplit).
	rfds, err := socketpair()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	replies := rfds[0]
	theirReplies := os.NewFile(uintptr(rfds[1]), "privsep-engine-replies")
	defer theirReplies.Close()
	closeReplies := sync.OnceFunc(func() { syscall.Close(replies) })

	alive, alivew, err := os.Pipe()
	if err != nil {
		conn.Close()
		closeReplies()
		return nil, err
	}
	defer alive.Close()

	cmd := exec.Command(s.Path, s.Args...)
	cmd.Env = s.Env
	// The engine's log goes through the parent, each line marked as the
	// engine's: it cannot pass for the parent's.
	lw := &lineWriter{prefix: "engine: ", out: s.Stderr}
	cmd.Stdout, cmd.Stderr = lw, lw
	cmd.ExtraFiles = []*os.File{theirs, s.Listener, alive, theirReplies} // EngineConnFD, EngineListenerFD, EngineParentFD, EngineReplyFD
	if s.Text != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, s.Text) // EngineTextFD
	}
	cmd.SysProcAttr = engineAttr(s.User)
	if err := cmd.Start(); err != nil {
		conn.Close()
		closeReplies()
		alivew.Close()
		return nil, fmt.Errorf("starting the engine as %s (%s): %w", s.User.Name, s.Path, err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.starts++
	s.mu.Unlock()
	s.Logger.Info("engine started", "pid", cmd.Process.Pid, "user", s.User.Name, "uid", s.User.UID)

	served := make(chan struct{})
	go func() {
		defer close(served)
		err := s.Parent.ServeSplit(conn, replies)
		// An engine this parent no longer answers must not go on:
		// closed, its sockets read as end-of-file, and one that fails
		// the protocol (say, leaves a second of replies unread) is
		// killed as well; either way it is started again.
		conn.Close()
		closeReplies()
		if err != nil {
			s.Logger.Error("talking to the engine; stopping it", "err", err)
			cmd.Process.Kill()
		}
	}()
	done := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		lw.Flush()
		alivew.Close()
		conn.Close()
		<-served
		s.Parent.EngineGone()
		done <- err
	}()
	return done, nil
}

// socketpair makes a connected pair of Unix stream sockets, both
// close-on-exec.
func socketpair() ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return [2]int{}, err
	}
	syscall.CloseOnExec(fds[0])
	syscall.CloseOnExec(fds[1])
	return [2]int{fds[0], fds[1]}, nil
}

// stop ends the running engine.
func (s *Supervisor) stop(done <-chan error) {
	s.mu.Lock()
	p := s.cmd.Process
	s.mu.Unlock()
	p.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(s.StopTimeout):
		s.Logger.Warn("the engine did not stop in time; killing it")
		p.Kill()
		<-done
	}
}

// lineWriter writes each line with a prefix; a line longer than 16 KiB
// is cut.
type lineWriter struct {
	mu     sync.Mutex
	prefix string
	out    io.Writer
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			if len(w.buf) > 16<<10 {
				w.flushLocked()
			}
			break
		}
		w.buf = append(w.buf, p[:i]...)
		w.flushLocked()
		p = p[i+1:]
	}
	return n, nil
}

// Flush writes what is left of an unfinished line.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.flushLocked()
	}
}

func (w *lineWriter) flushLocked() {
	line := append([]byte(w.prefix), w.buf...)
	w.out.Write(append(line, '\n'))
	w.buf = w.buf[:0]
}

// WatchParent calls gone once the parent has died (its end of the pipe
// passed as EngineParentFD is closed).
func WatchParent(gone func()) {
	f := os.NewFile(EngineParentFD, "parent-alive")
	if f == nil {
		return
	}
	go func() {
		var b [1]byte
		f.Read(b[:]) // returns at end-of-file: nothing is ever written
		gone()
	}()
}

// CloseOnExecAll marks every descriptor above standard error close-on-
// exec, so that none inherited by this process reaches the engine.
func CloseOnExecAll() {
	dir := "/proc/self/fd"
	if _, err := os.Stat(dir); err != nil {
		dir = "/dev/fd"
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}

// EngineFiles returns the engine's ends of the socketpairs (requests,
// replies) and the control socket's listener, as the supervisor passed
// them.
func EngineFiles() (conn, replies *net.UnixConn, ln net.Listener, err error) {
	unixConn := func(fd uintptr, name string) (*net.UnixConn, error) {
		f := os.NewFile(fd, name)
		if f == nil {
			return nil, errors.New("the engine's descriptors are missing (it is started by 'timesync service run' only)")
		}
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("the engine's connection to the parent: %w", err)
		}
		uc, ok := c.(*net.UnixConn)
		if !ok {
			c.Close()
			return nil, fmt.Errorf("descriptor %d is not a Unix socket", fd)
		}
		return uc, nil
	}
	lf := os.NewFile(EngineListenerFD, "control-listener")
	if lf == nil {
		return nil, nil, nil, errors.New("the engine's descriptors are missing (it is started by 'timesync service run' only)")
	}
	defer lf.Close()
	if conn, err = unixConn(EngineConnFD, "privsep-engine"); err != nil {
		return nil, nil, nil, err
	}
	if replies, err = unixConn(EngineReplyFD, "privsep-engine-replies"); err != nil {
		conn.Close()
		// A parent of an older version (the binary replaced under a
		// running service) passes no replies' socket.
		return nil, nil, nil, fmt.Errorf("%w (no socket for the parent's replies: if timesync was just upgraded, restart the service)", err)
	}
	if ln, err = net.FileListener(lf); err != nil {
		conn.Close()
		replies.Close()
		return nil, nil, nil, fmt.Errorf("the control socket: %w", err)
	}
	return conn, replies, ln, nil
}
