//go:build !windows

package control

import (
	"os/user"
	"strconv"
)

// userName returns the login name of uid, or "uid N".
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return "uid " + strconv.Itoa(uid)
}
