// Package config owns timesync's configuration file: one text file in the
// ntp.conf tradition (/etc/timesync/timesync.conf; on Windows
// %ProgramData%\timesync\timesync.conf), its parser, its canonical
// formatter, its validation and its atomic save. It also converts the
// configuration files of ntpd, chronyd and systemd-timesyncd (Import).
//
// The file, one directive a line, '#' starts a comment:
//
//	server ADDRESS[:PORT] [iburst] [prefer] [minpoll N] [maxpoll N]
//	pool NAME[:PORT] [iburst] [maxsources N]
//	restrict default|ADDRESS[/BITS] [mask MASK] [ignore] [kod] [limited] [nomodify] [noquery] [nopeer] [noserve] [notrap]
//	listen ADDRESS[:PORT]
//	tinker [step SEC] [stepout SEC] [panic SEC]
//	minsources N
//	driftfile PATH
//	control-group NAME
//
// A token containing blanks or '#' is written in double quotes; inside
// quotes \" is a quote and \\ a backslash, any other backslash is literal
// (so Windows paths need no escaping). Directive and option names are
// case-insensitive; host names are kept in lower case.
//
// Ranges and defaults: PORT 1..65535 (123); minpoll/maxpoll are poll
// exponents (2^N seconds) in 3..17 with minpoll <= maxpoll (6 and 10, that
// is 64 s and 1024 s); maxsources 1..16 (4); minsources >= 1 (1); tinker
// thresholds are seconds >= 0 (step 0.128, stepout 900, panic 1000; as in
// ntpd, step 0 means never step and panic 0 disables the panic check).
// Serving time is off unless a listen directive is present.
//
// Comments survive a Parse → edit → Format round trip: a comment block
// directly above a directive (no blank line between) belongs to that
// directive and goes away with it; a block separated by a blank line stays
// where it is. Directives keep their order in the file; new ones are placed
// after the last directive of the same kind.
//
// This package only reads and writes files; it must not resolve names,
// open sockets or touch the clock. Deciding what the rules mean at run time
// is the engine's and the server's job, except RestrictFor, which is pure
// table lookup.
package config
