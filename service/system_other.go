//go:build !windows

package service

import kservice "github.com/kardianos/service"

// afterInstall has nothing to add outside Windows: the unit file and the
// plist carry everything.
func afterInstall(*kservice.Config) error { return nil }
