// Package serve is timesync's NTP server mode: it answers client requests
// (mode 3) with server replies (mode 4, RFC 5905) on the addresses named by
// "listen", under ntpd-style "restrict" rules.
//
// It owns the wire format of what it sends (packet.go, pure functions), the
// compiled restrict table (restrict.go), the "limited" rate limiter in a
// fixed-size MRU table (limit.go), and the sockets (server.go, with kernel
// receive timestamps where the OS has them: rxts_linux.go).
//
// It must not: answer anything but a well-formed client request; answer
// with more bytes than it was sent (no amplification); announce a
// confident time while the service is not synchronized (leap 3, stratum
// 16 instead); or reach into the poll loop — the service hands it its
// synchronization state (SetSync) and its rules (SetRules).
package serve
