#!/usr/bin/env bash
# Write deploy/mosquitto/passwd: the bridge plus one login per locker bank in the database
# (username = bank code; the hash of the password issued by `pickup lockers provision`, or of
# the one derived from SECRET_KEY for a bank never provisioned: lockers/credentials.py).
# Re-run after adding banks, then reload Mosquitto (SIGHUP).
#
#   LOCKERS_BRIDGE_PASSWORD=... DATABASE_URL=... deploy/mosquitto/make-passwd.sh [out-file]
#
# The bridge then uses MQTT_URL=mqtt://pickup-bridge:$LOCKERS_BRIDGE_PASSWORD@mosquitto:1883.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-deploy/mosquitto/passwd}"
: "${LOCKERS_BRIDGE_PASSWORD:?set LOCKERS_BRIDGE_PASSWORD (the bridge account's password)}"
pickup="${PICKUP:-.venv/bin/pickup}"
"$pickup" lockers credentials --out "$out" --bridge-password "$LOCKERS_BRIDGE_PASSWORD"
