module github.com/timesync/timesync

go 1.26.8

require (
	github.com/beevik/ntp v1.6.0
	golang.org/x/sys v0.49.0
)

require (
	github.com/Microsoft/go-winio v0.6.4 // indirect
	github.com/kardianos/service v1.3.0 // indirect
	golang.org/x/net v0.59.0 // indirect
)
