#!/usr/bin/env bash
# devpki.sh DIR ADDRESS LABEL — make a development PKI and ccaas package in DIR
# unless one is there already. Development material only: the keys are in
# plain files and DIR is git-ignored.
set -euo pipefail
dir=${1:-certs}
address=${2:-localhost:9999}
label=${3:-basic_1.0}
bin=${BIN:-bin}
host=${address%:*}

if [[ -f "$dir/ccid" && -f "$dir/server/tls.crt" && -f "$dir/peer/tls.crt" ]]; then
  exit 0
fi
echo ">> creating a development PKI in $dir/ (development material only)"
mkdir -p "$dir"
# Start afresh, but keep the tracked README that says what is here.
find "$dir" -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
"$bin/ccpki" init --dir "$dir/ca" >/dev/null
"$bin/ccpki" issue --profile server --ca "$dir/ca" --dns "$host" $([[ $host != localhost ]] && echo --dns localhost) --ip 127.0.0.1 --out "$dir/server" >/dev/null
"$bin/ccpki" issue --profile client --ca "$dir/ca" --cn peer0.org1.example.com --org Org1MSP --out "$dir/peer" >/dev/null
"$bin/ccpki" crl --ca "$dir/ca" >/dev/null
"$bin/ccpki" package --label "$label" --address "$address" --root-cert "$dir/ca/ca.crt" \
  --client-cert "$dir/peer/tls.crt" --client-key "$dir/peer/tls.key" --out "$dir/$label.tar.gz" \
  | grep -Eo "${label}:[0-9a-f]{64}" | head -1 >"$dir/ccid"
# The connection.json inside the package, for ccpeer.
tar -xzOf "$dir/$label.tar.gz" code.tar.gz | tar -xzO connection.json >"$dir/connection.json"
chmod 600 "$dir/connection.json"
[[ -s "$dir/ccid" ]] || { echo "devpki: could not read the package id" >&2; exit 1; }
