// Package debs fetches Debian packages of reference NTP implementations
// for the benchmarks: `apt-get download` into a cache directory and
// `dpkg -x` there, never installed, with the shared libraries the machine
// lacks fetched the same way and found through LD_LIBRARY_PATH.
package debs

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Chronyd is an unpacked chronyd binary and the environment it needs.
type Chronyd struct {
	Bin string
	Env []string // os.Environ plus LD_LIBRARY_PATH when libraries were unpacked too
}

// PrepareChrony returns a runnable chronyd: the given binary, or Debian's
// chrony package fetched with `apt-get download` into cache and unpacked
// with `dpkg -x` (never installed). Libraries chronyd needs that the
// machine lacks are fetched and unpacked the same way, from the package's
// Depends, and found through LD_LIBRARY_PATH.
func PrepareChrony(given, cache string, progress io.Writer) (*Chronyd, error) {
	if given != "" {
		return &Chronyd{Bin: given, Env: os.Environ()}, nil
	}
	cache, err := filepath.Abs(cache)
	if err != nil {
		return nil, err
	}
	root := filepath.Join(cache, "chrony")
	ch := &Chronyd{Bin: filepath.Join(root, "usr", "sbin", "chronyd"), Env: os.Environ()}
	deb, err := fetchDeb(cache, "chrony", progress)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(ch.Bin); err != nil {
		fmt.Fprintf(progress, "unpacking %s\n", filepath.Base(deb))
		if err := unpack(deb, root); err != nil {
			return nil, err
		}
	}
	missing, err := missingLibs(ch.Bin, ch.Env)
	if err != nil || len(missing) == 0 {
		return ch, err
	}
	fmt.Fprintf(progress, "chronyd lacks %s; fetching its dependencies\n", strings.Join(missing, ", "))
	deps, err := debDepends(deb)
	if err != nil {
		return nil, err
	}
	for _, pkg := range deps {
		if installed(pkg) {
			continue
		}
		d, err := fetchDeb(cache, pkg, progress)
		if err != nil {
			return nil, err
		}
		if err := unpack(d, root); err != nil {
			return nil, err
		}
	}
	var libDirs []string
	for _, pat := range []string{"lib/*-linux-gnu*", "usr/lib/*-linux-gnu*", "lib", "usr/lib"} {
		m, _ := filepath.Glob(filepath.Join(root, pat))
		libDirs = append(libDirs, m...)
	}
	ch.Env = append(ch.Env, "LD_LIBRARY_PATH="+strings.Join(libDirs, ":"))
	if missing, err = missingLibs(ch.Bin, ch.Env); err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s still lacks %s after unpacking its dependencies", ch.Bin, strings.Join(missing, ", "))
	}
	return ch, nil
}

// fetchDeb returns the cached .deb of pkg, downloading it first if needed
// (running apt-get update once if the download fails).
func fetchDeb(cache, pkg string, progress io.Writer) (string, error) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	pattern := filepath.Join(cache, pkg+"_*.deb")
	if m, _ := filepath.Glob(pattern); len(m) > 0 {
		return m[len(m)-1], nil
	}
	fmt.Fprintf(progress, "apt-get download %s (into %s)\n", pkg, cache)
	download := func() error {
		cmd := exec.Command("apt-get", "download", pkg)
		cmd.Dir = cache
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get download %s: %v\n%s", pkg, err, out)
		}
		return nil
	}
	if err := download(); err != nil {
		fmt.Fprintln(progress, "download failed; running apt-get update and retrying")
		if out, uerr := exec.Command("apt-get", "update").CombinedOutput(); uerr != nil {
			return "", fmt.Errorf("%v; apt-get update: %v\n%s", err, uerr, out)
		}
		if err := download(); err != nil {
			return "", err
		}
	}
	m, _ := filepath.Glob(pattern)
	if len(m) == 0 {
		return "", fmt.Errorf("apt-get download %s left no %s", pkg, pattern)
	}
	return m[len(m)-1], nil
}

func unpack(deb, root string) error {
	if out, err := exec.Command("dpkg", "-x", deb, root).CombinedOutput(); err != nil {
		return fmt.Errorf("dpkg -x %s: %v\n%s", deb, err, out)
	}
	return nil
}

// missingLibs lists the shared libraries ldd reports as not found.
func missingLibs(bin string, env []string) ([]string, error) {
	cmd := exec.Command("ldd", bin)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %v\n%s", bin, err, out)
	}
	return parseLddMissing(string(out)), nil
}

// parseLddMissing extracts "libfoo.so.1" from ldd lines "libfoo.so.1 => not found".
func parseLddMissing(out string) []string {
	var missing []string
	for _, line := range strings.Split(out, "\n") {
		if lib, ok := strings.CutSuffix(strings.TrimSpace(line), "=> not found"); ok {
			missing = append(missing, strings.TrimSpace(lib))
		}
	}
	return missing
}

// debDepends lists the package names in a .deb's Depends field.
func debDepends(deb string) ([]string, error) {
	out, err := exec.Command("dpkg-deb", "-f", deb, "Depends").Output()
	if err != nil {
		return nil, fmt.Errorf("dpkg-deb -f %s Depends: %w", deb, err)
	}
	return parseDepends(string(out)), nil
}

// parseDepends turns "libc6 (>= 2.34), libcap2 (>= 1:2.10), adduser | foo"
// into [libc6 libcap2 adduser]: the first alternative of each clause,
// without version or architecture qualifiers.
func parseDepends(field string) []string {
	var pkgs []string
	for _, clause := range strings.Split(field, ",") {
		alt, _, _ := strings.Cut(clause, "|")
		name, _, _ := strings.Cut(strings.TrimSpace(alt), " ")
		name, _, _ = strings.Cut(name, "(")
		name, _, _ = strings.Cut(name, ":")
		if name = strings.TrimSpace(name); name != "" {
			pkgs = append(pkgs, name)
		}
	}
	return pkgs
}

func installed(pkg string) bool {
	out, err := exec.Command("dpkg-query", "-W", "-f", "${db:Status-Status}", pkg).Output()
	return err == nil && strings.TrimSpace(string(out)) == "installed"
}
