package serve

// restrict.go: the restrict table compiled for the packet path. The
// rules and their semantics are service/config's (config.Restrict,
// Config.RestrictFor); this only makes the lookup cheap enough to do for
// every packet: one map probe per distinct prefix length, longest first,
// instead of a scan over every rule.

import (
	"encoding/binary"
	"slices"

	"github.com/timesync/timesync/service/config"
)

// Flags is the set of restrict flags of the rule that matches a client.
type Flags uint16

// The restrict flags, with ntpd's meaning for a time server that never
// peers and answers no control queries.
const (
	// FlagIgnore drops every packet.
	FlagIgnore Flags = 1 << iota
	// FlagNoServe refuses time service.
	FlagNoServe
	// FlagLimited rate-limits the client (ntpd's minimum and average
	// spacing, Limiter).
	FlagLimited
	// FlagKoD answers a rate-limited request with a RATE kiss-o'-death
	// instead of silence (itself rate-limited).
	FlagKoD
	// FlagNoPeer refuses symmetric associations. This server refuses
	// symmetric modes from everyone; the flag is accepted and shown.
	FlagNoPeer
	// FlagNoQuery refuses mode 6/7 queries; refused from everyone here.
	FlagNoQuery
	// FlagNoModify refuses run-time changes over NTP (mode 6/7 writes);
	// refused from everyone here.
	FlagNoModify
	// FlagNoTrap refuses mode 6 trap service; refused from everyone here.
	FlagNoTrap
)

// flagsOf maps a config rule to Flags.
func flagsOf(r config.Restrict) Flags {
	var f Flags
	for _, x := range []struct {
		on bool
		f  Flags
	}{
		{r.Ignore, FlagIgnore}, {r.NoServe, FlagNoServe}, {r.Limited, FlagLimited}, {r.KoD, FlagKoD},
		{r.NoPeer, FlagNoPeer}, {r.NoQuery, FlagNoQuery}, {r.NoModify, FlagNoModify}, {r.NoTrap, FlagNoTrap},
	} {
		if x.on {
			f |= x.f
		}
	}
	return f
}

// String lists the flags as a restrict line writes them.
func (f Flags) String() string {
	names := []string{"ignore", "noserve", "limited", "kod", "nopeer", "noquery", "nomodify", "notrap"}
	var b []byte
	for i, n := range names {
		if f&(1<<i) != 0 {
			if len(b) > 0 {
				b = append(b, ' ')
			}
			b = append(b, n...)
		}
	}
	return string(b)
}

// Rules is a compiled restrict table; immutable once built, so the
// server swaps whole tables at run time.
type Rules struct {
	def Flags
	v4  []level4
	v6  []level6
	n   int // rules compiled, for reporting
}

type level4 struct {
	bits int
	m    map[uint32]Flags // masked address → flags
}

type level6 struct {
	bits int
	m    map[[16]byte]Flags
}

// Compile builds the table for rules with config.Config.RestrictFor's
// semantics: the longest prefix containing the client wins and only its
// flags apply (rules for the same prefix OR their flags); IPv4-mapped
// IPv6 clients match IPv4 rules; the default rule applies when nothing
// matches (several default lines OR their flags), and without one
// config.DefaultRestrict.
func Compile(rules []config.Restrict) *Rules {
	t := &Rules{n: len(rules)}
	haveDef := false
	by4 := map[int]map[uint32]Flags{}
	by6 := map[int]map[[16]byte]Flags{}
	for _, r := range rules {
		f := flagsOf(r)
		if r.Default {
			t.def |= f
			haveDef = true
			continue
		}
		p := r.Addr.Masked()
		if !p.IsValid() {
			continue
		}
		a := p.Addr()
		if a.Is4() {
			m := by4[p.Bits()]
			if m == nil {
				m = map[uint32]Flags{}
				by4[p.Bits()] = m
			}
			k := key4(a.As4())
			m[k] |= f
		} else {
			m := by6[p.Bits()]
			if m == nil {
				m = map[[16]byte]Flags{}
				by6[p.Bits()] = m
			}
			m[a.As16()] |= f
		}
	}
	if !haveDef {
		t.def = flagsOf(config.DefaultRestrict())
	}
	for bits, m := range by4 {
		t.v4 = append(t.v4, level4{bits, m})
	}
	for bits, m := range by6 {
		t.v6 = append(t.v6, level6{bits, m})
	}
	slices.SortFunc(t.v4, func(a, b level4) int { return b.bits - a.bits })
	slices.SortFunc(t.v6, func(a, b level6) int { return b.bits - a.bits })
	return t
}

func key4(a [4]byte) uint32 { return binary.BigEndian.Uint32(a[:]) }

// Default returns the flags of the default rule.
func (t *Rules) Default() Flags { return t.def }

// Len returns how many rules the table was compiled from.
func (t *Rules) Len() int { return t.n }

// Match returns the flags for a client whose address is given as 16
// bytes (IPv4 as ::ffff:a.b.c.d, as netip.Addr.As16 gives it).
func (t *Rules) Match(a16 [16]byte) Flags {
	if isMapped(a16) {
		a := binary.BigEndian.Uint32(a16[12:])
		for _, l := range t.v4 {
			if f, ok := l.m[a&mask32(l.bits)]; ok {
				return f
			}
		}
		return t.def
	}
	for _, l := range t.v6 {
		if f, ok := l.m[mask128(a16, l.bits)]; ok {
			return f
		}
	}
	return t.def
}

func isMapped(a [16]byte) bool {
	return a[10] == 0xff && a[11] == 0xff && a[0]|a[1]|a[2]|a[3]|a[4]|a[5]|a[6]|a[7]|a[8]|a[9] == 0
}

func mask32(bits int) uint32 {
	if bits == 0 {
		return 0
	}
	return ^uint32(0) << (32 - bits)
}

func mask128(a [16]byte, bits int) [16]byte {
	for i := range a {
		switch {
		case bits >= 8:
			bits -= 8
		case bits > 0:
			a[i] &= ^byte(0) << (8 - bits)
			bits = 0
		default:
			a[i] = 0
		}
	}
	return a
}
