package main

import (
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/timesync/timesync/test/vm/initramfs"
	"github.com/timesync/timesync/test/vm/vmtest"
)

// initScript is the guest's /init.
//
//go:embed init.sh
var initScript []byte

// binaries are the programs buildAll produced.
type binaries struct {
	timesync string // for the guest: linux/amd64, static
	guest    string // the in-guest test program: linux/amd64, static
	ntptestd string // for the host
}

// buildAll builds the programs into dir with the go command, from the
// module this harness belongs to; timesync only if withTimesync.
func buildAll(dir string, withTimesync bool, log io.Writer) (binaries, error) {
	root, err := moduleRoot()
	if err != nil {
		return binaries{}, err
	}
	b := binaries{
		timesync: filepath.Join(dir, "timesync"),
		guest:    filepath.Join(dir, "timesync-vmtest"),
		ntptestd: filepath.Join(dir, "ntptestd"),
	}
	guestEnv := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}
	for _, job := range []struct {
		out, pkg string
		env      []string
	}{
		{b.timesync, "./cmd/timesync", guestEnv},
		{b.guest, "./test/vm/guest", guestEnv},
		{b.ntptestd, "./cmd/ntptestd", []string{"CGO_ENABLED=0"}},
	} {
		if job.out == b.timesync && !withTimesync {
			continue
		}
		cmd := exec.Command("go", "build", "-trimpath", "-o", job.out, job.pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), job.env...)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return binaries{}, fmt.Errorf("go build %s: %w", job.pkg, err)
		}
	}
	return b, nil
}

// moduleRoot reports the directory of the go.mod the go command uses here.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the timesync module (run from the repository)")
	}
	return filepath.Dir(mod), nil
}

// guestFiles are the host files that go into the guest's root.
type guestFiles struct {
	busybox, module, timesync, guest string
}

// writeInitramfs writes the guest's root file system to path: busybox and
// /init, the e1000 module, timesync, the test program, and the marker file
// that the test program's guard requires.
func writeInitramfs(path string, g guestFiles) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := initramfs.NewWriter(bw)
	add := func(name string, perm uint32, src string) error {
		data, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("initramfs %s: %w", name, err)
		}
		return w.File(name, perm, data)
	}
	steps := []func() error{
		func() error { return w.Dir("dev", 0o755) },
		func() error { return w.CharDev("dev/console", 0o600, 5, 1) },
		func() error { return w.CharDev("dev/null", 0o666, 1, 3) },
		func() error { return w.Dir("proc", 0o555) },
		func() error { return w.Dir("sys", 0o555) },
		func() error { return w.Dir("tmp", 0o1777) },
		func() error { return w.Dir("usr/bin", 0o755) },
		func() error { return add("bin/busybox", 0o755, g.busybox) },
		func() error { return w.Symlink("bin/sh", "busybox") },
		func() error { return w.File("init", 0o755, initScript) },
		func() error { return add("lib/modules/e1000.ko", 0o644, g.module) },
		func() error { return add("usr/bin/timesync", 0o755, g.timesync) },
		func() error { return add("usr/bin/timesync-vmtest", 0o755, g.guest) },
		func() error { return w.File(vmtest.MarkerPath, 0o444, []byte(vmtest.MarkerContent)) },
		func() error {
			return w.File("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"))
		},
		func() error { return w.File("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n")) },
		w.Close,
		bw.Flush,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			f.Close()
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return f.Close()
}
