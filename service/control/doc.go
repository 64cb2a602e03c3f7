// Package control is the service's local control API, in the style of
// tailscale's LocalAPI: plain HTTP + JSON over a local socket (package
// socket: a Unix socket on Linux and macOS, a named pipe on Windows).
//
// Routes (routes.go) are one table, one line per endpoint; permissions
// (perms.go) are another, and a test checks that every route is in it.
// Any local user may read; only root, Administrators and members of the
// configured control-group may change anything, decided from the peer's
// credentials as the kernel reports them (SO_PEERCRED, LOCAL_PEERCRED,
// the pipe client's token) and never from anything the client sends.
//
// Requests are decoded strictly (unknown fields and trailing data are
// errors) and bounded in size; every error is {"error": "…"} with 400,
// 403, 404, 405, 409 or 413, and "field" naming the member of the
// request it concerns when there is one (ErrorBody). /v1/watch streams
// server-sent events so clients follow changes without polling.
//
// The package owns the wire types (api.go), the server and the bounded
// history ring; the daemon (package service) implements Backend. It must
// not touch the clock or the configuration file itself. The Go client is
// service/control/client.
package control
