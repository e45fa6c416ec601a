#!/usr/bin/env bash
# demo.sh — the `make demo` target: the whole round trip, unattended.
# A dev PKI, ccserver in the background over mTLS, invokes and queries with
# ccpeer, the server certificate renewed underneath it while ccpeer bench
# runs (zero errors required), then a clean stop (exit 0 after draining).
set -euo pipefail
bin=${BIN:-bin}
work=$(mktemp -d "${TMPDIR:-/tmp}/ccserver-demo.XXXXXX")
address=127.0.0.1:${DEMO_PORT:-19999}
server_pid=""
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid"; fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }

step "dev PKI and ccaas package (ccpki)"
scripts/devpki.sh "$work/certs" "$address" basic_1.0
ccid=$(cat "$work/certs/ccid")
echo "package id: $ccid"
peer=("--connection" "$work/certs/connection.json" "--ccid" "$ccid")
state=("--state" "$work/state.db")

step "ccserver in the background (mTLS, client certificates required)"
"$bin/ccserver" --address "$address" --ccid "$ccid" \
  --tls-cert "$work/certs/server/tls.crt" --tls-key "$work/certs/server/tls.key" \
  --client-ca "$work/certs/ca/ca.crt" --crl "$work/certs/ca/crl.pem" --log-format json >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  if "$bin/ccpeer" probe "${peer[@]}" >/dev/null 2>&1; then break; fi
  sleep 0.1
done
"$bin/ccpeer" probe "${peer[@]}" | sed -n '1,6p'

step "invoke and query over mTLS (ccpeer)"
"$bin/ccpeer" invoke "${peer[@]}" "${state[@]}" -- InitLedger
"$bin/ccpeer" invoke "${peer[@]}" "${state[@]}" -- CreateAsset asset7 green 9 Ada 700
"$bin/ccpeer" invoke "${peer[@]}" "${state[@]}" -- TransferAsset asset7 Grace
out=$("$bin/ccpeer" query "${peer[@]}" "${state[@]}" -- ReadAsset asset7)
echo "$out"
grep -q '"owner":"Grace"' <<<"$out" || { echo "demo: ReadAsset did not see the transfer" >&2; exit 1; }
if "$bin/ccpeer" query "${peer[@]}" "${state[@]}" -- ReadAsset nosuchasset >/dev/null 2>&1; then
  echo "demo: reading a missing asset should fail" >&2; exit 1
fi

step "renew the server certificate underneath while ccpeer bench runs"
"$bin/ccpeer" bench "${peer[@]}" --concurrency 16 --connections 2 --duration 6s --progress 0 \
  --mix AssetExists=1 --json >"$work/bench.json" -- asset1 &
bench_pid=$!
sleep 1.5
"$bin/ccpki" renew --ca "$work/certs/ca" --dir "$work/certs/server" --force
sleep 1.5
renewed=$("$bin/ccpki" renew --ca "$work/certs/ca" --dir "$work/certs/server" --force)
echo "$renewed"
new_pin=$(grep -o 'sha256/[A-Za-z0-9+/=]*' <<<"$renewed" | head -1)
wait "$bench_pid"
cat "$work/bench.json"
grep -Eq '"errors": ?0[,}]' "$work/bench.json" || { echo "demo: bench saw errors during the rotation" >&2; exit 1; }
grep -Eq '"transactions": ?[1-9]' "$work/bench.json" || { echo "demo: bench ran no transactions" >&2; exit 1; }
rotations=$(grep -c '"msg":"TLS certificate rotated"\|rotated' "$work/server.log" || true)
echo "server log: $rotations rotation line(s)"
[[ $rotations -ge 1 ]] || { echo "demo: the server did not pick up the renewed certificate" >&2; cat "$work/server.log" >&2; exit 1; }
for _ in $(seq 50); do
  if "$bin/ccpeer" probe "${peer[@]}" | grep -q "pin: $new_pin"; then break; fi
  sleep 0.1
done
"$bin/ccpeer" probe "${peer[@]}" | grep -q "pin: $new_pin" || { echo "demo: a new connection did not get the renewed certificate" >&2; exit 1; }
echo "a new connection is served the renewed certificate ($new_pin)"

step "revoke a peer's certificate: refused at its next handshake (CRL reloaded hot)"
"$bin/ccpki" issue --profile client --ca "$work/certs/ca" --cn peer1.org1.example.com --out "$work/certs/peer1" >/dev/null
peer1=(--address "$address" --tls-root-cert "$work/certs/ca/ca.crt" --client-cert "$work/certs/peer1/tls.crt" --client-key "$work/certs/peer1/tls.key" --ccid "$ccid")
"$bin/ccpeer" probe "${peer1[@]}" >/dev/null && echo "peer1 admitted before revocation"
"$bin/ccpki" revoke --ca "$work/certs/ca" --cert "$work/certs/peer1" --reason key-compromise
refused=""
for _ in $(seq 50); do
  if ! "$bin/ccpeer" probe "${peer1[@]}" >"$work/probe1.out" 2>&1; then refused=yes; break; fi
  sleep 0.1
done
[[ -n $refused ]] || { echo "demo: the revoked peer certificate is still admitted" >&2; exit 1; }
grep -m2 -i 'diagnosis\|error\|refused\|rejected' "$work/probe1.out" || true
"$bin/ccpeer" probe "${peer[@]}" >/dev/null && echo "peer0 (not revoked) still admitted"

step "clean stop (SIGTERM drains, exit 0)"
kill -TERM "$server_pid"
set +e
wait "$server_pid"
rc=$?
set -e
server_pid=""
echo "ccserver exited with $rc"
[[ $rc -eq 0 ]] || { cat "$work/server.log" >&2; exit 1; }
echo
echo "demo: OK"
