package tray

import (
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/timesync/timesync/gui/model"
)

// WindowProcess starts the window process (the same binary with
// --window) on demand and hands it requests on its standard input; the
// process exits when its last window closes (or its input ends), so no
// GL loop runs while no window is open.
type WindowProcess struct {
	// Command returns the command that starts the window process.
	Command func() *exec.Cmd
	Log     *slog.Logger

	mu     sync.Mutex
	cmd    *exec.Cmd
	stdin  *os.File
	latest []byte // the last update, as the window process reads it
}

// Update hands the latest state of the service to the window process
// (now, if it runs, and when it starts).
func (w *WindowProcess) Update(up model.Update) {
	b, err := model.EncodeUpdate(up)
	if err != nil {
		return
	}
	line := append([]byte("update "), b...)
	line = append(line, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	w.latest = line
	w.send(line)
}

// send writes a line to the window process, giving up after a second:
// a window process that does not read must not stall the tray.
func (w *WindowProcess) send(line []byte) error {
	if w.stdin == nil {
		return io.ErrClosedPipe
	}
	w.stdin.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := w.stdin.Write(line)
	return err
}

// Open shows which ("status" or "settings"), starting the process when
// none runs.
func (w *WindowProcess) Open(which string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stdin != nil {
		if err := w.send([]byte(which + "\n")); err == nil {
			return
		}
	}
	cmd := w.Command()
	r, in, err := os.Pipe()
	if err != nil {
		w.Log.Error("window process", "err", err)
		return
	}
	cmd.Stdin = r
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	err = cmd.Start()
	r.Close()
	if err != nil {
		in.Close()
		w.Log.Error("starting the window process", "err", err)
		return
	}
	w.cmd, w.stdin = cmd, in
	if w.latest != nil {
		w.send(w.latest)
	}
	w.send([]byte(which + "\n"))
	go func() {
		cmd.Wait()
		w.mu.Lock()
		if w.cmd == cmd {
			w.stdin.Close()
			w.cmd, w.stdin = nil, nil
		}
		w.mu.Unlock()
	}()
}

// Running reports the window process's PID (0: none).
func (w *WindowProcess) Running() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cmd == nil || w.cmd.Process == nil {
		return 0
	}
	return w.cmd.Process.Pid
}

// Close ends the window process: its input closes, and it quits.
func (w *WindowProcess) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stdin != nil {
		w.stdin.Close()
	}
}
