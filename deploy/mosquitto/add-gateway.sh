#!/usr/bin/env bash
# Credentials for one gateway: a password entry and a client certificate signed by the CA.
#   deploy/mosquitto/add-gateway.sh DIR GATEWAY_ID
# The password is read from GATEWAY_PASSWORD (never echoed); the client key stays in DIR.
set -euo pipefail
dir=${1:?usage: add-gateway.sh DIR GATEWAY_ID}
gw=${2:?usage: add-gateway.sh DIR GATEWAY_ID}
[[ $gw =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]] || { echo "bad gateway id: $gw" >&2; exit 2; }
: "${GATEWAY_PASSWORD:?set GATEWAY_PASSWORD}"
cd "$dir"
touch passwd
mosquitto_passwd -b passwd "$gw" "$GATEWAY_PASSWORD"
openssl req -newkey rsa:2048 -nodes -keyout "$gw.key" -out "$gw.csr" -subj "/CN=$gw" 2>/dev/null
openssl x509 -req -in "$gw.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$gw.crt" \
    -days 825 2>/dev/null
rm -f "$gw.csr"
chmod 600 "$gw.key"
echo "gateway $gw: password entry in $dir/passwd, certificate $dir/$gw.crt"
