package serve

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/timesync/timesync/service/config"
)

// parseRules parses restrict lines with service/config's parser.
func parseRules(t testing.TB, lines ...string) []config.Restrict {
	t.Helper()
	var rs []config.Restrict
	for _, l := range lines {
		r, err := config.ParseRestrict(strings.Fields(l)...)
		if err != nil {
			t.Fatalf("restrict %s: %v", l, err)
		}
		rs = append(rs, r)
	}
	return rs
}

// The cases of ntpd's access control documentation (accopt.html, "the
// most specific match wins"; the sample ntp.conf of every distribution):
// a host entry beats the subnet that contains it, a subnet beats the
// default, and only the flags of the entry that matches apply — nothing
// is inherited from a less specific entry.
func TestRestrictMatchingOrder(t *testing.T) {
	rules := Compile(parseRules(t,
		"default kod limited nomodify notrap nopeer noquery",
		"127.0.0.1",
		"::1",
		"192.168.1.0 mask 255.255.255.0 nomodify notrap",
		"192.168.1.7 ignore",
		"10.0.0.0 mask 255.0.0.0 noserve",
		"10.1.0.0 mask 255.255.0.0 limited",
		"2001:db8:: mask ffff:ffff:: nomodify",
		"2001:db8:1:: mask ffff:ffff:ffff:: noserve",
	))
	def := FlagKoD | FlagLimited | FlagNoModify | FlagNoTrap | FlagNoPeer | FlagNoQuery
	for _, tc := range []struct {
		client string
		want   Flags
		why    string
	}{
		{"127.0.0.1", 0, "host beats default"},
		{"127.0.0.2", def, "no rule: default"},
		{"192.168.1.5", FlagNoModify | FlagNoTrap, "subnet beats default; no kod/limited from default"},
		{"192.168.1.7", FlagIgnore, "host beats subnet; no nomodify from the subnet"},
		{"::ffff:192.168.1.7", FlagIgnore, "IPv4-mapped client matches the IPv4 host rule"},
		{"192.168.2.1", def, "outside the subnet"},
		{"10.2.3.4", FlagNoServe, "/8"},
		{"10.1.2.3", FlagLimited, "/16 beats /8: not noserve"},
		{"::1", 0, "IPv6 host"},
		{"::2", def, "IPv6 default"},
		{"2001:db8:2::1", FlagNoModify, "IPv6 /32"},
		{"2001:db8:1::1", FlagNoServe, "IPv6 /48 beats /32"},
		{"fe80::1%eth0", def, "zone ignored, default"},
	} {
		a := netip.MustParseAddr(tc.client)
		if got := rules.Match(a.As16()); got != tc.want {
			t.Errorf("%s (%s): got %q, want %q", tc.client, tc.why, got, tc.want)
		}
	}

	// Without a default line, config.DefaultRestrict applies.
	noDef := Compile(parseRules(t, "192.168.1.0 mask 255.255.255.0 nomodify"))
	if got, want := noDef.Match(netip.MustParseAddr("10.0.0.1").As16()), flagsOf(config.DefaultRestrict()); got != want {
		t.Errorf("no default line: got %q, want DefaultRestrict %q", got, want)
	}
}

// Compile's lookup agrees with config.Config.RestrictFor, the one
// definition of the matching rule, on random tables and clients.
func TestCompiledMatchAgreesWithConfig(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0))
		c := &config.Config{Restrict: randomRules(rng, 1+rng.IntN(60))}
		rules := Compile(c.Restrict)
		for i := 0; i < 2000; i++ {
			a := randomAddr(rng, c.Restrict)
			want := flagsOf(c.RestrictFor(a))
			if got := rules.Match(a.As16()); got != want {
				t.Fatalf("seed %d: client %s: compiled %q, config.RestrictFor %q", seed, a, got, want)
			}
		}
	}
}

func randomRules(rng *rand.Rand, n int) []config.Restrict {
	var rs []config.Restrict
	for i := 0; i < n; i++ {
		r := config.Restrict{
			Ignore: rng.IntN(5) == 0, NoServe: rng.IntN(4) == 0, Limited: rng.IntN(2) == 0, KoD: rng.IntN(2) == 0,
			NoPeer: rng.IntN(2) == 0, NoQuery: rng.IntN(2) == 0, NoModify: rng.IntN(2) == 0, NoTrap: rng.IntN(2) == 0,
		}
		switch rng.IntN(10) {
		case 0:
			r.Default = true
		case 1, 2, 3:
			var b [16]byte
			b[0], b[1], b[15] = 0x20, 0x01, byte(rng.IntN(4))
			r.Addr = netip.PrefixFrom(netip.AddrFrom16(b), []int{16, 32, 64, 126, 128}[rng.IntN(5)]).Masked()
		default:
			a := netip.AddrFrom4([4]byte{10, byte(rng.IntN(3)), byte(rng.IntN(3)), byte(rng.IntN(4))})
			r.Addr = netip.PrefixFrom(a, []int{0, 8, 16, 24, 30, 32}[rng.IntN(6)]).Masked()
		}
		rs = append(rs, r)
	}
	return rs
}

func randomAddr(rng *rand.Rand, rs []config.Restrict) netip.Addr {
	switch rng.IntN(4) {
	case 0:
		var b [16]byte
		b[0], b[1], b[15] = 0x20, 0x01, byte(rng.IntN(6))
		return netip.AddrFrom16(b)
	case 1:
		return netip.AddrFrom16(netip.AddrFrom4([4]byte{10, byte(rng.IntN(3)), byte(rng.IntN(3)), byte(rng.IntN(5))}).As16()) // mapped
	}
	return netip.AddrFrom4([4]byte{10, byte(rng.IntN(3)), byte(rng.IntN(3)), byte(rng.IntN(5))})
}
