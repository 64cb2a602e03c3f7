package control

import "net/http"

// route is one endpoint: a method and an exact path, and its handler.
type route struct {
	method, path string
	handle       func(*Server, http.ResponseWriter, *http.Request) error
}

// routes is every endpoint of the API, one line each. perms (perms.go)
// must list each of them; TestEveryRouteHasAPermission checks it.
var routes = []route{
	{"GET", "/v1/status", (*Server).getStatus},
	{"GET", "/v1/sources", (*Server).getSources},
	{"GET", "/v1/history", (*Server).getHistory},
	{"GET", "/v1/config", (*Server).getConfig},
	{"PUT", "/v1/config", (*Server).putConfig},
	{"GET", "/v1/servers", (*Server).getServers},
	{"POST", "/v1/servers", (*Server).postServers},
	{"DELETE", "/v1/servers", (*Server).deleteServers},
	{"GET", "/v1/restrict", (*Server).getRestrict},
	{"POST", "/v1/restrict", (*Server).postRestrict},
	{"DELETE", "/v1/restrict", (*Server).deleteRestrict},
	{"POST", "/v1/sync", (*Server).postSync},
	{"GET", "/v1/watch", (*Server).getWatch},
}
