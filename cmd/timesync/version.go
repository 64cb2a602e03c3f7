package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version and commit are stamped by the build (go build -ldflags "-X
// main.version=1.2.3 -X main.commit=abc1234"); when they are not, they are
// read from the module and VCS information Go records in the binary.
var (
	version = ""
	commit  = ""
)

// buildVersion returns the version, the commit (with "+dirty" when the
// tree had uncommitted changes) and the Go version of this binary.
func buildVersion() (ver, rev, goVer string) {
	ver, rev, goVer = version, commit, runtime.Version()
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return orUnknown(ver), orUnknown(rev), goVer
	}
	if ver == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		ver = info.Main.Version
	}
	if rev == "" {
		dirty := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
				if len(rev) > 12 {
					rev = rev[:12]
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" && dirty {
			rev += "+dirty"
		}
	}
	if ver == "" {
		ver = "devel"
	}
	return ver, orUnknown(rev), goVer
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// runVersion prints "timesync VERSION (commit COMMIT, GOVERSION OS/ARCH)".
func runVersion(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return usagef("version takes no arguments")
	}
	ver, rev, goVer := buildVersion()
	fmt.Fprintf(stdout, "timesync %s (commit %s, %s %s/%s)\n", ver, rev, goVer, runtime.GOOS, runtime.GOARCH)
	return nil
}
