#!/bin/bash
# packaging/test/sign.sh DIST: the installer's optional Authenticode signing
# (packaging/windows/sign.sh) with a throwaway self-signed code-signing
# certificate made here; osslsigncode verify checks the signature against it.
set -euo pipefail
dist=$(cd "${1:-dist}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
setup=$dist/timesync-$(cat "$dist/VERSION")-windows-amd64-setup.exe
work=$(mktemp -d "${TMPDIR:-/tmp}/timesync-signtest.XXXXXX")
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=timesync test signer" \
	-addext extendedKeyUsage=codeSigning -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
openssl pkcs12 -export -inkey "$work/key.pem" -in "$work/cert.pem" -passout pass:test -out "$work/cert.p12"
cp "$setup" "$work/setup.exe"
if osslsigncode verify -CAfile "$work/cert.pem" -in "$work/setup.exe" >/dev/null 2>&1; then
	echo "FAIL: the unsigned installer verifies" >&2
	exit 1
fi
SIGN_PKCS12=$work/cert.p12 SIGN_PASSWORD=test "$here/../windows/sign.sh" "$work/setup.exe"
out=$(osslsigncode verify -CAfile "$work/cert.pem" -in "$work/setup.exe" 2>&1) || {
	echo "$out" >&2
	echo "FAIL: the signed installer does not verify" >&2
	exit 1
}
grep -q 'Signature verification: ok' <<<"$out" || { echo "$out" >&2; echo "FAIL: no 'Signature verification: ok'" >&2; exit 1; }
grep -q 'timesync test signer' <<<"$out" || { echo "FAIL: the signer is not the test certificate" >&2; exit 1; }
echo "ok: signed with SIGN_PKCS12 and verified (osslsigncode verify, SHA-256, signer CN=timesync test signer)"
echo "sign test: PASS"
