package config

import (
	"net/netip"
	"testing"
)

func TestRestrictFor(t *testing.T) {
	withDefault := parseOK(t, `
restrict default ignore
restrict 192.168.0.0/16 noserve
restrict 192.168.1.0 mask 255.255.255.0 kod limited
restrict 192.168.1.7 notrap
restrict 2001:db8::/32 noquery
restrict 0.0.0.0/0 nopeer
`)
	noDefault := parseOK(t, "restrict 10.0.0.0/8 ignore\n")
	empty := parseOK(t, "")
	tests := []struct {
		name string
		c    *Config
		addr string
		want Restrict
	}{
		{"most specific host", withDefault, "192.168.1.7", Restrict{Addr: netip.MustParsePrefix("192.168.1.7/32"), NoTrap: true}},
		{"most specific /24", withDefault, "192.168.1.8", Restrict{Addr: netip.MustParsePrefix("192.168.1.0/24"), KoD: true, Limited: true}},
		{"/16", withDefault, "192.168.200.1", Restrict{Addr: netip.MustParsePrefix("192.168.0.0/16"), NoServe: true}},
		{"ipv4 /0 beats default", withDefault, "203.0.113.1", Restrict{Addr: netip.MustParsePrefix("0.0.0.0/0"), NoPeer: true}},
		{"ipv6 prefix", withDefault, "2001:db8:1::5", Restrict{Addr: netip.MustParsePrefix("2001:db8::/32"), NoQuery: true}},
		{"ipv6 falls to default, not to ipv4 /0", withDefault, "2001:db9::1", Restrict{Default: true, Ignore: true}},
		{"ipv4-mapped matches ipv4 rule", withDefault, "::ffff:192.168.1.7", Restrict{Addr: netip.MustParsePrefix("192.168.1.7/32"), NoTrap: true}},
		{"zone ignored", withDefault, "2001:db8::1%eth0", Restrict{Addr: netip.MustParsePrefix("2001:db8::/32"), NoQuery: true}},
		{"no default: built-in default", noDefault, "192.0.2.1", DefaultRestrict()},
		{"no default: rule still applies", noDefault, "10.1.2.3", Restrict{Addr: netip.MustParsePrefix("10.0.0.0/8"), Ignore: true}},
		{"no rules", empty, "::1", DefaultRestrict()},
		{"invalid address", withDefault, "", Restrict{Default: true, Ignore: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a netip.Addr
			if tt.addr != "" {
				a = netip.MustParseAddr(tt.addr)
			}
			if got := tt.c.RestrictFor(a); got != tt.want {
				t.Errorf("RestrictFor(%s) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
}

func TestRestrictForCombinesRepeats(t *testing.T) {
	// Validate refuses repeats, but a Config built in code may have them:
	// ntpd ORs the flags of entries for the same address.
	c := &Config{Restrict: []Restrict{
		{Addr: netip.MustParsePrefix("10.0.0.0/8"), KoD: true},
		{Default: true, NoQuery: true},
		{Addr: netip.MustParsePrefix("10.0.0.0/8"), Limited: true},
		{Default: true, NoPeer: true},
	}}
	if got, want := c.RestrictFor(netip.MustParseAddr("10.9.9.9")), (Restrict{Addr: netip.MustParsePrefix("10.0.0.0/8"), KoD: true, Limited: true}); got != want {
		t.Errorf("got %v, want %v", got, want)
	}
	if got, want := c.RestrictFor(netip.MustParseAddr("11.0.0.1")), (Restrict{Default: true, NoQuery: true, NoPeer: true}); got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestRestrictServes(t *testing.T) {
	for _, tt := range []struct {
		r    Restrict
		want bool
	}{
		{Restrict{}, true},
		{DefaultRestrict(), true},
		{Restrict{Ignore: true}, false},
		{Restrict{NoServe: true}, false},
		{Restrict{NoQuery: true, NoModify: true, Limited: true}, true},
	} {
		if got := tt.r.Serves(); got != tt.want {
			t.Errorf("%v.Serves() = %v, want %v", tt.r, got, tt.want)
		}
	}
}
