//go:build !linux && !windows

package tray

import "context"

// FollowColorScheme reports false: on macOS the menu bar draws the
// tray's icon as a template image in its own colours, so there is no
// dark variant to choose.
func FollowColorScheme(ctx context.Context, set func(dark bool)) bool { return false }
