package control

import (
	"fmt"
	"net"
	"os/user"
	"slices"
	"strconv"
	"sync"
)

// Peer is who is at the other end of a control connection, as the kernel
// reports it (never as the client claims).
type Peer struct {
	// UID and GID are the peer's user and primary group (-1 where the OS
	// has none: Windows). PID is its process, 0 if unknown.
	UID, GID, PID int
	// Groups are supplementary group ids where the kernel reports them
	// with the credentials (macOS LOCAL_PEERCRED); nil elsewhere.
	Groups []int
	// Admin reports root (uid 0) or, on Windows, a token with the
	// Administrators group enabled (an elevated administrator) or
	// LocalSystem.
	Admin bool
	// SIDs are the enabled group SIDs of a Windows client's token.
	SIDs []string
	// User names the peer for logs and error messages.
	User string
}

// memberOf reports whether p belongs to the group named group: its
// primary group, a supplementary group reported with the credentials,
// or (Unix) a group the user database lists the user in; on Windows an
// enabled group SID of the token.
func (p *Peer) memberOf(group string) bool {
	if group == "" {
		return false
	}
	if p.SIDs != nil {
		sid, err := lookupGroupSID(group)
		return err == nil && slices.Contains(p.SIDs, sid)
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return false
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return false
	}
	if gid == p.GID || slices.Contains(p.Groups, gid) {
		return true
	}
	u, err := user.LookupId(strconv.Itoa(p.UID))
	if err != nil {
		return false
	}
	ids, err := u.GroupIds()
	return err == nil && slices.Contains(ids, g.Gid)
}

// mayWrite reports whether p may change settings: an administrator, or
// a member of the control group.
func (p *Peer) mayWrite(controlGroup string) bool {
	return p.Admin || p.memberOf(controlGroup)
}

func (p *Peer) String() string {
	if p.User != "" {
		return p.User
	}
	return fmt.Sprintf("uid %d", p.UID)
}

// connPeer finds a connection's peer once, on first use: on Windows the
// pipe client's token can only be read after it has sent something.
type connPeer struct {
	conn     net.Conn
	identify func(net.Conn) (*Peer, error)
	once     sync.Once
	peer     *Peer
	err      error
}

func (c *connPeer) get() (*Peer, error) {
	c.once.Do(func() { c.peer, c.err = c.identify(c.conn) })
	return c.peer, c.err
}
