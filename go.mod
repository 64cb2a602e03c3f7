module github.com/timesync/timesync

go 1.26.8

require (
	github.com/beevik/ntp v1.6.0
	golang.org/x/sys v0.49.0
)

require golang.org/x/net v0.59.0 // indirect
