#!/bin/sh
# packaging/windows/sign.sh FILE: Authenticode-sign FILE in place with
# osslsigncode (SHA-256) using SIGN_PKCS12 (a .p12/.pfx with the code-signing
# certificate and its key), SIGN_PASSWORD (its password, if any) and
# SIGN_TIMESTAMP_URL (an RFC 3161 timestamp server, if any).
set -eu
f=$1
: "${SIGN_PKCS12:?SIGN_PKCS12 names the .p12/.pfx to sign with}"
command -v osslsigncode >/dev/null 2>&1 || { echo "sign: osslsigncode is missing (Debian's osslsigncode)" >&2; exit 1; }
set -- sign -pkcs12 "$SIGN_PKCS12" -h sha256 -n timesync -i https://github.com/timesync/timesync
[ -z "${SIGN_PASSWORD:-}" ] || set -- "$@" -pass "$SIGN_PASSWORD"
[ -z "${SIGN_TIMESTAMP_URL:-}" ] || set -- "$@" -ts "$SIGN_TIMESTAMP_URL"
rm -f "$f.signed"
osslsigncode "$@" -in "$f" -out "$f.signed" >/dev/null
mv "$f.signed" "$f"
echo "sign: signed $f"
