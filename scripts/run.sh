#!/usr/bin/env bash
# run.sh — the `make run` target: dev PKI (if none), then ccserver with mTLS
# in the foreground, serving the asset-transfer sample chaincode.
set -euo pipefail
dir=${CERTS:-certs}
address=${ADDRESS:-localhost:9999}
bin=${BIN:-bin}
scripts/devpki.sh "$dir" "$address" basic_1.0
ccid=$(cat "$dir/ccid")

cat <<MSG

== ccserver (asset-transfer-basic sample) ==
package id:      $ccid
connection.json: $dir/connection.json (the peer would read this from the package $dir/basic_1.0.tar.gz):
$(sed -e 's/"client_key":"[^"]*"/"client_key":"<PEM private key, see the file>"/' "$dir/connection.json" | head -c 600)...

Talk to it from another terminal:
  $bin/ccpeer invoke --connection $dir/connection.json --ccid $ccid -- InitLedger
  $bin/ccpeer query  --connection $dir/connection.json --ccid $ccid -- ReadAsset asset1
  $bin/ccpeer probe  --connection $dir/connection.json --ccid $ccid
Metrics: http://127.0.0.1:9443/metrics     Stop: Ctrl-C (drains in-flight transactions)

MSG
exec "$bin/ccserver" --address "$address" --ccid "$ccid" \
  --tls-cert "$dir/server/tls.crt" --tls-key "$dir/server/tls.key" \
  --client-ca "$dir/ca/ca.crt" --crl "$dir/ca/crl.pem" --metrics-address 127.0.0.1:9443
