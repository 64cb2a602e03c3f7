package control

// perm is what a route needs of the peer, as chrony's cmdmon.c marks
// each command open or auth-only.
type perm int

const (
	// permRead: any local user (status, history, the configuration —
	// which holds no secret).
	permRead perm = iota + 1
	// permWrite: root / Administrators / members of control-group.
	permWrite
)

// perms is the permission of every route, by "METHOD PATH". A route
// missing here is refused to everyone (see Server.ServeHTTP), and a test
// fails.
var perms = map[string]perm{
	"GET /v1/status":     permRead,
	"GET /v1/sources":    permRead,
	"GET /v1/history":    permRead,
	"GET /v1/config":     permRead,
	"PUT /v1/config":     permWrite,
	"GET /v1/servers":    permRead,
	"POST /v1/servers":   permWrite,
	"DELETE /v1/servers": permWrite,
	"GET /v1/restrict":   permRead,
	"POST /v1/restrict":  permWrite,
	// Removing an access rule changes who is served: a write.
	"DELETE /v1/restrict": permWrite,
	// A burst only sends a few packets, but confirming a step moves
	// the clock by more than the panic threshold: both are writes, so
	// the route has one permission whatever the body says.
	"POST /v1/sync": permWrite,
	"GET /v1/watch": permRead,
}
