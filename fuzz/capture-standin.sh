#!/bin/bash
# Regenerates the stand-in part of the seed corpora: real success responses
# (fuzz/corpus/fuzz-response/standin-*) and error bodies
# (fuzz/corpus/fuzz-error-body/standin-*) from tests/standin/standin.py.
# Needs python3 and curl; writes only below fuzz/corpus/.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

start() {   # role -> sets port_<role>
  python3 "$root/tests/standin/standin.py" --role "$1" --token TOKEN --quiet \
    --port-file "$work/$1.port" >/dev/null &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/$1.port" ] && break; sleep 0.1; done
  eval "port_$1=$(cat "$work/$1.port")"
}
start cloud
start gateway

resp=$here/corpus/fuzz-response
errs=$here/corpus/fuzz-error-body

# post ROLE ENDPOINT BODY [HEADER...] -> the response body on stdout
post() {
  local role=$1 endpoint=$2 body=$3 port
  shift 3
  eval "port=\$port_$role"
  curl -sS -X POST "http://127.0.0.1:$port/v3/provisioning/$endpoint" \
    -H 'X-Enapter-Auth-Token: TOKEN' -H 'X-Enapter-Allow-HTTP: true' \
    -H 'Content-Type: application/json' "$@" --data-binary "$body"
}

# A fuzz-response seed: the kind byte (see README.md) and the body.
keep_response() {
  { printf '%s' "$2"; cat; } >"$resp/standin-$1"
}

site='"site_id":"sitebba0-79f2-4e9e-a6f0-69a310ab110b"'
for proto in MQTT MQTTS; do
  if [ $proto = MQTT ]; then off=0; else off=8; fi
  b() { printf "\\x$(printf %x $((0x30 + $1 + off)))"; }
  post cloud ucm "{$site,\"hardware_id\":\"HW1\",\"name\":\"My UCM\",\"protocol\":\"$proto\"}" |
    keep_response "ucm-$proto" "$(b 0)"
  post gateway embedded "{\"device_type\":\"DRYER\",$site,\"hardware_id\":\"HW2\",\"name\":\"My Dryer\",\"protocol\":\"$proto\"}" |
    keep_response "embedded-$proto" "$(b 2)"
done
post gateway vucm "{$site,\"hardware_id\":\"HW3\",\"name\":\"My VUCM\"}" | keep_response vucm 1
master=$(post gateway link_master "{$site,\"hardware_id\":\"HW4\",\"name\":\"Link 1\"}" |
  tee >(keep_response link_master 3) | sed 's/.*"device_id": *"\([^"]*\)".*/\1/')
sleep 0.2
post gateway link_slave "{$site,\"hardware_id\":\"HW5\",\"name\":\"ENP-AO6\",\"master_device_id\":\"$master\"}" |
  keep_response link_slave 4
post cloud standalone "{$site,\"name\":\"My Device\"}" | keep_response standalone 5
post cloud lua_device '{"runtime_id":"ucmbbba0-79f2-4e9e-a6f0-69a310ab110b","blueprint_id":"bluepri1-50n3-4t9d-e6v0-69i310cb110e","name":"Gas sensor","slug":"gas-sensor-1"}' |
  keep_response lua_device 6
post cloud gateway "{$site,\"hardware_id\":\"GW1\",\"gateway_version\":\"3.0.0\",\"site_name\":\"My Site\",\"site_timezone\":\"Europe/Berlin\",\"site_location\":{\"latitude\":52.52,\"longitude\":13.4}}" |
  keep_response gateway-MQTTS '?'

# Error bodies, one per kind of refusal the stand-in documents.
post cloud nowhere '{}' >"$errs/standin-404-not-found"
post cloud vucm '{}' >"$errs/standin-404-unsupported"
eval "port=\$port_cloud"
curl -sS -X POST "http://127.0.0.1:$port/v3/provisioning/ucm" -H 'X-Enapter-Auth-Token: WRONG' \
  -H 'X-Enapter-Allow-HTTP: true' -H 'Content-Type: application/json' --data-binary '{}' \
  >"$errs/standin-401"
curl -sS -X POST "http://127.0.0.1:$port/v3/provisioning/ucm" -H 'X-Enapter-Auth-Token: TOKEN' \
  -H 'Content-Type: application/json' --data-binary '{}' >"$errs/standin-400-http"
curl -sS -X GET "http://127.0.0.1:$port/v3/provisioning/ucm" >"$errs/standin-405"
post cloud ucm '{}' -H 'Content-Type: text/plain' >"$errs/standin-422-content-type"
post cloud ucm 'not json' >"$errs/standin-422-not-json"
post cloud ucm '{"site_id":1,"name":null,"protocol":"MQTX","extra":true}' >"$errs/standin-422-fields"
post cloud gateway '{"site_id":"s","hardware_id":"h","gateway_version":"3","site_name":"n","site_timezone":"z","site_location":{"latitude":"x"}}' \
  >"$errs/standin-422-nested"
lua='{"runtime_id":"r1","blueprint_id":"b1","name":"Gas","slug":"gas-1"}'
post cloud lua_device "$lua" >/dev/null
post cloud lua_device "$lua" >"$errs/standin-409"
post gateway link_slave "{$site,\"hardware_id\":\"HW9\",\"name\":\"x\",\"master_device_id\":\"nope\"}" \
  >"$errs/standin-404-master"
curl -sS -X POST "http://127.0.0.1:$port/_standin/faults" \
  --data-binary '{"status":503}' >/dev/null
post cloud ucm '{}' >"$errs/standin-503-injected"
echo "captured $(ls "$resp"/standin-* | wc -l) responses, $(ls "$errs"/standin-* | wc -l) error bodies"
