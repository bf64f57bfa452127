#!/usr/bin/env bash
# A local certificate authority and the broker's certificate for a meterlink site.
#   deploy/mosquitto/make-ca.sh DIR BROKER_HOSTNAME
# Writes DIR/ca.key, ca.crt, server.key, server.crt (keep ca.key offline).
set -euo pipefail
dir=${1:?usage: make-ca.sh DIR BROKER_HOSTNAME}
host=${2:?usage: make-ca.sh DIR BROKER_HOSTNAME}
mkdir -p "$dir"
cd "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
    -subj "/CN=meterlink local CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
    -subj "/CN=$host" 2>/dev/null
printf 'subjectAltName=DNS:%s,IP:127.0.0.1\n' "$host" > server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
    -days 825 -extfile server.ext 2>/dev/null
rm -f server.csr server.ext
chmod 600 ca.key server.key
echo "CA and broker certificate in $dir"
