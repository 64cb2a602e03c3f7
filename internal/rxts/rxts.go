// Package rxts asks the kernel to timestamp the datagrams a UDP socket
// receives and reads those timestamps from the control messages: the
// instant the kernel took a datagram off the wire, not when a reader got
// to it. Linux gives nanoseconds (SO_TIMESTAMPNS), macOS microseconds
// (SO_TIMESTAMP); elsewhere Supported is false and nothing is asked for.
// The NTP client (service/ntpclient) and server (service/serve) share it.
package rxts
