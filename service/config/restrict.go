package config

import "net/netip"

// RestrictFor returns the rule that applies to a client at addr, with
// ntpd's semantics:
//   - among the rules whose prefix contains addr, the most specific
//     (longest prefix) wins; an IPv4 rule never matches an IPv6 address,
//     but an IPv4-mapped IPv6 address (::ffff:a.b.c.d, as a dual-stack
//     socket reports IPv4 clients) is matched as the IPv4 address;
//   - if no prefix matches, the default rule applies; without a
//     "restrict default" line that is DefaultRestrict;
//   - several rules for the same prefix combine their flags (ntpd ORs
//     them), though Validate refuses such a file.
//
// The returned rule is the matching one (Addr set, Default false) or the
// default rule; an invalid addr gets the default rule.
func (c *Config) RestrictFor(addr netip.Addr) Restrict {
	addr = addr.Unmap().WithZone("")
	var best, def Restrict
	found, haveDef := false, false
	for _, r := range c.Restrict {
		switch {
		case r.Default:
			if haveDef {
				def = orFlags(def, r)
			} else {
				def, haveDef = r, true
			}
		case !addr.IsValid() || !r.Addr.IsValid() || !r.Addr.Contains(addr):
		case !found || r.Addr.Bits() > best.Addr.Bits():
			best, found = r, true
		case r.Addr.Bits() == best.Addr.Bits():
			best = orFlags(best, r)
		}
	}
	if found {
		return best
	}
	if haveDef {
		return def
	}
	return DefaultRestrict()
}

// orFlags returns a with every flag of b added.
func orFlags(a, b Restrict) Restrict {
	for _, f := range restrictFlags {
		if *f.get(&b) {
			*f.get(&a) = true
		}
	}
	return a
}

// Serves reports whether a client under r gets time service: neither
// ignored nor refused. Rate limiting (Limited, KoD) still applies.
func (r Restrict) Serves() bool { return !r.Ignore && !r.NoServe }
