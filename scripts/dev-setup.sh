#!/usr/bin/env bash
# Set-up for a development machine or a first try: system packages (ffmpeg; Mosquitto so the demo's
# events have a broker to go to), then the npm packages. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
if [ ${#need[@]} -gt 0 ]; then
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
# Where no init system started it (containers), start a broker on localhost:1883 for the demo.
if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
  if command -v systemctl >/dev/null 2>&1 && systemctl start mosquitto 2>/dev/null; then :; else
    "${as_root[@]}" /usr/sbin/mosquitto -d 2>/dev/null || echo "note: no MQTT broker on localhost:1883; the demo keeps its events in var/outbox"
  fi
fi
npm ci --no-audit --no-fund
