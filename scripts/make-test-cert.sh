#!/usr/bin/env bash
# Makes a throwaway CA and a server certificate for the SMTP tests.
# Usage: bash scripts/make-test-cert.sh OUTDIR
# Writes OUTDIR/ca.pem (the CA certificate a client must be given to trust the
# server), OUTDIR/server.pem (leaf certificate for DNS:localhost and
# IP:127.0.0.1, signed by that CA) and OUTDIR/server-key.pem (its key).
# Idempotent: files that are still valid and belong together are kept; otherwise
# all three are made anew. Safe to run concurrently for the same OUTDIR.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)

# Tests running in parallel may all ask for the same OUTDIR; without a lock one
# could read a ca.pem from one run next to a server.pem from another.
if command -v flock >/dev/null 2>&1 && [ -z "${MAKE_TEST_CERT_LOCKED:-}" ]; then
  exec env MAKE_TEST_CERT_LOCKED=1 flock "$out/.make-test-cert.lock" "$0" "$out"
fi

still_good() {
  [ -s "$out/ca.pem" ] && [ -s "$out/server.pem" ] && [ -s "$out/server-key.pem" ] || return 1
  openssl verify -CAfile "$out/ca.pem" "$out/server.pem" >/dev/null 2>&1 || return 1
  # Renew a day early so a long test run never sees it expire.
  openssl x509 -in "$out/server.pem" -noout -checkend 86400 >/dev/null 2>&1 || return 1
  # The key must be the certificate's own.
  [ "$(openssl x509 -in "$out/server.pem" -noout -pubkey)" = \
    "$(openssl pkey -in "$out/server-key.pem" -pubout)" ] || return 1
}

if still_good; then
  exit 0
fi

work=$(mktemp -d "$out/.make-test-cert.XXXXXX")
trap 'rm -rf "$work"' EXIT

# A config file rather than -addext / -copy_extensions, which older OpenSSL and
# LibreSSL (macOS) lack.
cat >"$work/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EOF

# RSA 2048 keys: accepted by every TLS stack the Swift client might use.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/ca-key.pem" 2>/dev/null
openssl req -config "$work/openssl.cnf" -new -x509 -sha256 -days 3650 \
  -key "$work/ca-key.pem" -subj "/CN=OTPGate Test CA" -extensions v3_ca \
  -out "$work/ca.pem"

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/server-key.pem" 2>/dev/null
openssl req -config "$work/openssl.cnf" -new -sha256 \
  -key "$work/server-key.pem" -subj "/CN=localhost" -out "$work/server.csr"
# 365 days: Apple's TLS stack rejects server certificates valid for much longer.
openssl x509 -req -sha256 -days 365 -in "$work/server.csr" \
  -CA "$work/ca.pem" -CAkey "$work/ca-key.pem" -set_serial "0x$(openssl rand -hex 16)" \
  -extfile "$work/openssl.cnf" -extensions v3_server -out "$work/server.pem" 2>/dev/null

chmod 600 "$work/server-key.pem"
# Key first, CA last: on a first run, once ca.pem exists the whole set does.
mv -f "$work/server-key.pem" "$out/server-key.pem"
mv -f "$work/server.pem" "$out/server.pem"
mv -f "$work/ca.pem" "$out/ca.pem"
echo "made test CA and server certificate in $out" >&2
