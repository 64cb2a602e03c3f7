package tray

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"

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
	stdin  io.WriteCloser
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
	if w.stdin != nil {
		w.stdin.Write(line)
	}
}

// Open shows which ("status" or "settings"), starting the process when
// none runs.
func (w *WindowProcess) Open(which string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stdin != nil {
		if _, err := fmt.Fprintln(w.stdin, which); err == nil {
			return
		}
	}
	cmd := w.Command()
	in, err := cmd.StdinPipe()
	if err != nil {
		w.Log.Error("window process", "err", err)
		return
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		w.Log.Error("starting the window process", "err", err)
		return
	}
	w.cmd, w.stdin = cmd, in
	if w.latest != nil {
		in.Write(w.latest)
	}
	fmt.Fprintln(in, which)
	go func() {
		cmd.Wait()
		w.mu.Lock()
		if w.cmd == cmd {
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
