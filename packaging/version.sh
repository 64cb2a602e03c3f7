#!/bin/sh
# The package version: a tag vX.Y.Z[-N-gHASH] gives X.Y.Z[+N.gHASH]; with no
# tag, 0.0.0~git.HASH (sorts before any release); "+dirty" for a tree with
# uncommitted changes. Valid for dpkg, rpm and NSIS alike.
d=$(git describe --tags --always --dirty 2>/dev/null || echo unknown)
if echo "$d" | grep -Eq '^v?[0-9]+\.[0-9]+'; then
	d=${d#v}
	base=${d%%-*}
	echo "$base$(echo "${d#"$base"}" | sed 's/^-/+/; s/-/./g; s/\.dirty$/+dirty/')"
else
	echo "0.0.0~git.$d" | sed 's/-dirty$/+dirty/'
fi
