#!/usr/bin/env bash
# Installs maskwatch as a systemd service on Raspberry Pi OS, Ubuntu or a Jetson (L4T).
# Safe to run again: it upgrades the app (and restarts the service if it was running); an existing
# config is never overwritten.
set -euo pipefail
# The service user must be able to read what root writes to /opt/maskwatch, whatever root's umask is.
umask 022

usage() {
  cat <<'EOF'
Usage: sudo scripts/install.sh [options]

Installs maskwatch from this checkout:
  app     <prefix>/opt/maskwatch             (compiled JavaScript in dist/, production packages only)
  config  <prefix>/etc/maskwatch/config.json (from config/example.json with deviceId = this host's name; only if absent)
  state   <prefix>/var/lib/maskwatch
  unit    <prefix>/etc/systemd/system/maskwatch.service (enabled)
and the packages ffmpeg, gpiod (libgpiod tools), nodejs (if node is missing; Node >= 20 is required).
No compiler is needed. Creates the system user maskwatch in the groups video and gpio (gpio is created if absent).

A new install leaves the service stopped until you have edited the config (camera.source, mqtt.url)
and started it, or give --start. Run again to upgrade: a running service is restarted on the new
version; if the new version rejects the config, nothing is replaced and the old one keeps running.

Options:
  --device-id ID  deviceId for a new config (letters, digits, _ and -; default: the host name)
  --start         start (or restart) the service at the end
  --no-start      do not start a stopped service (the default)
  --with-broker   also install, enable and start the Mosquitto MQTT broker
  --prefix DIR    install under DIR instead of / (a staging root; used by the tests)
  --dry-run       print each step, change nothing
  --help          this text
EOF
}

PREFIX=""
DRY_RUN=0
WITH_BROKER=0
START=0
DEVICE_ID=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --prefix)
      [[ $# -ge 2 && -n "$2" ]] || { echo "install.sh: --prefix needs a directory" >&2; exit 2; }
      PREFIX="${2%/}"; shift 2 ;;
    --prefix=*) PREFIX="${1#--prefix=}"; PREFIX="${PREFIX%/}"; shift ;;
    --device-id)
      [[ $# -ge 2 ]] || { echo "install.sh: --device-id needs a value" >&2; exit 2; }
      DEVICE_ID="$2"; shift 2 ;;
    --device-id=*) DEVICE_ID="${1#--device-id=}"; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --with-broker) WITH_BROKER=1; shift ;;
    --start) START=1; shift ;;
    --no-start) START=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -n "$DEVICE_ID" && ! "$DEVICE_ID" =~ ^[A-Za-z0-9_-]+$ ]]; then
  echo "install.sh: --device-id '$DEVICE_ID': use only letters, digits, _ and - (it is part of MQTT topics)" >&2
  exit 2
fi

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APP_DIR="$PREFIX/opt/maskwatch"
STAGE_DIR="$APP_DIR.new"
CONFIG_DIR="$PREFIX/etc/maskwatch"
CONFIG_FILE="$CONFIG_DIR/config.json"
STATE_DIR="$PREFIX/var/lib/maskwatch"
UNIT_DIR="$PREFIX/etc/systemd/system"
SERVICE=maskwatch.service
SERVICE_USER=maskwatch
MIN_NODE=20

say() { printf '==> %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

# Runs a command (argument array, never a shell string), or only prints it with --dry-run.
run() {
  if [[ $DRY_RUN -eq 1 ]]; then
    printf '[dry-run] %s\n' "$*"
  else
    "$@"
  fi
}

detect_platform() {
  local model=""
  if [[ -f "$PREFIX/etc/nv_tegra_release" ]]; then
    PLATFORM="jetson"
  else
    [[ -r "$PREFIX/proc/device-tree/model" ]] && model="$(tr -d '\0' < "$PREFIX/proc/device-tree/model")"
    local id=""
    [[ -r "$PREFIX/etc/os-release" ]] && id="$(. "$PREFIX/etc/os-release" && echo "${ID:-}")"
    if [[ "$model" == Raspberry\ Pi* || "$id" == raspbian ]]; then
      PLATFORM="raspberry-pi"
    elif [[ "$id" == ubuntu ]]; then
      PLATFORM="ubuntu"
    elif [[ "$id" == debian ]]; then
      PLATFORM="debian"
    else
      PLATFORM="unknown"
    fi
  fi
  say "platform: $PLATFORM${model:+ ($model)}"
  [[ "$PLATFORM" == unknown ]] && say "not Raspberry Pi OS, Ubuntu or Jetson L4T: trying anyway with apt-get"
  command -v apt-get >/dev/null || die "apt-get not found: only Debian-based systems are supported"
}

install_packages() {
  local packages=(ffmpeg gpiod)
  command -v node >/dev/null || packages+=(nodejs npm)
  [[ $WITH_BROKER -eq 1 ]] && packages+=(mosquitto mosquitto-clients)
  say "installing packages: ${packages[*]}"
  run apt-get update
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
}

check_node() {
  if ! command -v node >/dev/null; then
    [[ $DRY_RUN -eq 1 ]] && { NODE_BIN=/usr/bin/node; return; }
    die "node not found after installing nodejs"
  fi
  NODE_BIN="$(command -v node)"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if (( major < MIN_NODE )); then
    die "node $(node --version) at $NODE_BIN is too old: maskwatch needs Node >= $MIN_NODE (install it from https://github.com/nodesource/distributions, then run this again)"
  fi
  command -v npm >/dev/null || [[ $DRY_RUN -eq 1 ]] || die "npm not found next to node $NODE_BIN (install the npm that belongs to it)"
  say "node $(node --version) at $NODE_BIN"
}

create_user() {
  local group
  for group in video gpio; do
    if ! getent group "$group" >/dev/null; then
      say "creating group $group"
      run groupadd --system "$group"
    fi
  done
  if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
    say "creating system user $SERVICE_USER"
    run useradd --system --user-group --home-dir /var/lib/maskwatch --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
  fi
  run usermod --append --groups video,gpio "$SERVICE_USER"
}

# Raspberry Pi OS gives /dev/gpiochip* to the gpio group already; Ubuntu and L4T do not.
install_udev_rule() {
  local rules_dir="$PREFIX/etc/udev/rules.d"
  local rule='SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"'
  [[ "$PLATFORM" == raspberry-pi ]] && return 0
  if [[ -f "$rules_dir/60-maskwatch-gpio.rules" ]] && grep -qF "$rule" "$rules_dir/60-maskwatch-gpio.rules"; then
    return 0
  fi
  say "adding a udev rule so the gpio group may use /dev/gpiochip*"
  if [[ $DRY_RUN -eq 1 ]]; then
    printf '[dry-run] write %s/60-maskwatch-gpio.rules\n' "$rules_dir"
  else
    mkdir -p "$rules_dir"
    printf '# maskwatch: GPIO character devices for the gpio group\n%s\n' "$rule" > "$rules_dir/60-maskwatch-gpio.rules"
  fi
  run udevadm control --reload-rules
  run udevadm trigger --subsystem-match=gpio
}

# The ONNX Runtime package ships its native library for every OS and CPU (about 290 MB); node loads
# only bin/napi-v*/<platform>/<arch>. A node_modules that is a link is someone else's tree: left alone.
trim_node_modules() {
  local modules="$1/node_modules" keep dir
  [[ -L "$modules" || -L "$modules/onnxruntime-node" || ! -d "$modules/onnxruntime-node/bin" ]] && return 0
  keep="$("$NODE_BIN" -p 'process.platform + "/" + process.arch')"
  for dir in "$modules"/onnxruntime-node/bin/napi-v*/*/*; do
    [[ -d "$dir" && "$dir" != */"$keep" ]] && rm -rf "$dir"
  done
  # onnxruntime-web (the WebAssembly fallback where no binding loads, e.g. armv7) also ships browser builds
  # (about 125 MB); Node loads only its node entry and the SIMD-threaded .wasm with its .mjs.
  if [[ -d "$modules/onnxruntime-web/dist" && ! -L "$modules/onnxruntime-web" ]]; then
    find "$modules/onnxruntime-web/dist" -mindepth 1 -maxdepth 1 ! -name 'ort.node.min.js' ! -name 'ort.node.min.mjs' \
      ! -name 'ort-wasm-simd-threaded.mjs' ! -name 'ort-wasm-simd-threaded.wasm' -exec rm -rf {} +
    rm -rf "$modules/onnxruntime-web/lib"
  fi
  # npm prune leaves the emptied scope folders (@tensorflow, @esbuild) behind.
  find "$modules" -mindepth 1 -maxdepth 1 -type d -empty -delete
  return 0
}

# Full install (the compiler is a dev package), compile to dist/, then drop the dev packages
# (TypeScript, tsx, the training-only TF.js): the service runs node on dist/.
build_app() {
  local dir="$1" unchanged="; the installed version is unchanged"
  [[ $IN_PLACE -eq 1 ]] && unchanged=""
  say "building in $dir: npm ci, npm run build, npm prune --omit=dev"
  if [[ $DRY_RUN -eq 1 ]]; then
    printf '[dry-run] (cd %s && npm ci --include=dev && npm run build && npm prune --omit=dev)\n' "$dir"
    return 0
  fi
  # && and not set -e: errexit does not apply on the left of ||.
  (
    cd "$dir" &&
      npm ci --include=dev --no-audit --no-fund --loglevel=error &&
      npm run --silent build &&
      npm prune --omit=dev --no-audit --no-fund --loglevel=error
  ) || die "building the app in $dir failed (see above)$unchanged"
  trim_node_modules "$dir"
  chmod 0755 "$dir/bin/maskwatch.js"
  "$NODE_BIN" "$dir/bin/maskwatch.js" --version >/dev/null || die "the app built in $dir does not start$unchanged"
}

# The new version goes to opt/maskwatch.new and replaces opt/maskwatch only once it is built and
# accepts the config, so a failed upgrade leaves the running version as it was.
stage_app() {
  if [[ -d "$APP_DIR" && "$(cd "$SRC" && pwd -P)" == "$(cd "$APP_DIR" && pwd -P)" ]]; then
    say "running from $APP_DIR itself: building it in place"
    IN_PLACE=1
    NEW_APP="$APP_DIR"
  else
    IN_PLACE=0
    NEW_APP="$STAGE_DIR"
    say "copying the app to $STAGE_DIR"
    if [[ $DRY_RUN -eq 1 ]]; then
      printf '[dry-run] copy %s -> %s (without .git, node_modules, dist, var, tmp, out, *.log)\n' "$SRC" "$STAGE_DIR"
    else
      rm -rf "$STAGE_DIR"
      mkdir -p "$STAGE_DIR"
      tar -C "$SRC" --exclude=./.git --exclude=./node_modules --exclude=./dist --exclude=./var --exclude=./tmp --exclude=./out \
        --exclude=.cache --exclude='*.log' -cf - . | tar -C "$STAGE_DIR" --no-same-owner --touch -xf -
    fi
  fi
  build_app "$NEW_APP"
}

host_device_id() {
  local name
  name="$(uname -n)"
  # The same rule as the config schema's default deviceId.
  name="${name//[^A-Za-z0-9_-]/_}"
  printf '%s' "$name"
}

install_config() {
  run mkdir -p "$CONFIG_DIR" "$STATE_DIR"
  if [[ -e "$CONFIG_FILE" ]]; then
    say "keeping the existing $CONFIG_FILE"
    [[ -n "$DEVICE_ID" ]] && say "--device-id is ignored: the existing config keeps its deviceId"
    NEW_CONFIG=0
  else
    [[ -f "$SRC/config/example.json" ]] || die "config/example.json is missing from $SRC"
    local id="${DEVICE_ID:-$(host_device_id)}"
    [[ -n "$id" && "$id" =~ [A-Za-z0-9] ]] || die "the host name '$(uname -n)' makes no usable deviceId: give one with --device-id"
    say "writing $CONFIG_FILE from config/example.json (deviceId $id)"
    if [[ $DRY_RUN -eq 1 ]]; then
      printf '[dry-run] install -m 0640 %s/config/example.json %s (deviceId %s)\n' "$SRC" "$CONFIG_FILE" "$id"
    else
      local tmp="$CONFIG_DIR/.config.json.tmp"
      "$NODE_BIN" -e '
        const fs = require("node:fs");
        const [from, to, deviceId] = process.argv.slice(1);
        const config = JSON.parse(fs.readFileSync(from, "utf8"));
        fs.writeFileSync(to, JSON.stringify({ ...config, deviceId }, null, 2) + "\n", { mode: 0o640 });
      ' "$SRC/config/example.json" "$tmp" "$id"
      chmod 0640 "$tmp"
      mv -f "$tmp" "$CONFIG_FILE"
    fi
    run chgrp "$SERVICE_USER" "$CONFIG_FILE"
    NEW_CONFIG=1
  fi
  run chown "$SERVICE_USER:$SERVICE_USER" "$STATE_DIR"
  run chmod 0750 "$STATE_DIR"
}

# `maskwatch config check` of the new version, as the service will run it (its folder, its state dir).
check_config() {
  say "checking $CONFIG_FILE with the new version"
  if [[ $DRY_RUN -eq 1 ]]; then
    printf '[dry-run] (cd %s && node bin/maskwatch.js config check --config %s)\n' "$NEW_APP" "$CONFIG_FILE"
    return 0
  fi
  CHECK_OUTPUT="$(cd "$NEW_APP" && MASKWATCH_STATE_DIR="$STATE_DIR" "$NODE_BIN" bin/maskwatch.js config check --config "$CONFIG_FILE" 2>&1)"
}

service_active() {
  [[ $DRY_RUN -eq 0 ]] && command -v systemctl >/dev/null && systemctl is-active --quiet "$SERVICE"
}

replace_app() {
  [[ $IN_PLACE -eq 1 ]] && return 0
  say "installing the new version to $APP_DIR"
  if [[ $DRY_RUN -eq 1 ]]; then
    printf '[dry-run] mv %s %s\n' "$STAGE_DIR" "$APP_DIR"
    return 0
  fi
  rm -rf "$APP_DIR.old"
  [[ -e "$APP_DIR" ]] && mv "$APP_DIR" "$APP_DIR.old"
  mv "$STAGE_DIR" "$APP_DIR"
  rm -rf "$APP_DIR.old"
}

install_unit() {
  say "installing $UNIT_DIR/$SERVICE (node: $NODE_BIN)"
  run mkdir -p "$UNIT_DIR"
  if [[ $DRY_RUN -eq 1 ]]; then
    printf '[dry-run] write %s/%s\n' "$UNIT_DIR" "$SERVICE"
  else
    local tmp="$UNIT_DIR/.maskwatch.service.tmp"
    sed "s#^ExecStart=/usr/bin/node #ExecStart=$NODE_BIN #" "$SRC/systemd/maskwatch.service" > "$tmp"
    chmod 0644 "$tmp"
    mv -f "$tmp" "$UNIT_DIR/$SERVICE"
  fi
  install_old_systemd_dropin
  run systemctl daemon-reload
  run systemctl enable "$SERVICE"
  if [[ $WITH_BROKER -eq 1 ]]; then run systemctl enable --now mosquitto.service; fi
}

# systemd-notify before systemd 246 (Ubuntu 20.04, so JetPack 5) exits without waiting until systemd
# has read its message, which systemd then drops: READY=1 and WATCHDOG=1 could be lost.
install_old_systemd_dropin() {
  local dropin_dir="$UNIT_DIR/$SERVICE.d" version
  local dropin="$dropin_dir/10-systemd-before-246.conf"
  [[ $DRY_RUN -eq 1 ]] && return 0
  version="$(systemctl --version 2>/dev/null | sed -n '1s/^systemd \([0-9][0-9]*\).*/\1/p' || true)"
  if [[ -n "$version" && "$version" -lt 246 ]]; then
    say "systemd $version is older than 246: the service runs as Type=simple without the watchdog ($dropin)"
    mkdir -p "$dropin_dir"
    printf '%s\n' "# Written by scripts/install.sh for systemd $version: its systemd-notify does not wait until systemd" \
      "# has read a message, so READY=1 and WATCHDOG=1 could be lost (start time-out, watchdog restarts)." \
      '[Service]' 'Type=simple' 'WatchdogSec=0' > "$dropin"
  elif [[ -e "$dropin" ]]; then
    say "systemd $version: removing $dropin"
    rm -f "$dropin"
  fi
  return 0
}

main() {
  if [[ -z "$PREFIX" && $DRY_RUN -eq 0 && "$(id -u)" -ne 0 ]]; then
    die "run as root (sudo scripts/install.sh), or use --dry-run to see the steps"
  fi
  [[ $DRY_RUN -eq 1 ]] && say "dry run: nothing is changed"
  detect_platform
  install_packages
  check_node
  create_user
  install_udev_rule
  local was_active=0
  service_active && was_active=1
  stage_app
  install_config
  local config_ok=1
  CHECK_OUTPUT=""
  check_config || config_ok=0
  if [[ $config_ok -eq 0 ]]; then
    printf '%s\n' "$CHECK_OUTPUT" >&2
    # An installed version stays, running or not: the service also starts at boot, and the old version still takes
    # this config. Only a first install goes on (there is nothing to keep), without starting.
    if [[ -e "$APP_DIR/bin/maskwatch.js" && $IN_PLACE -eq 0 ]]; then
      rm -rf "$STAGE_DIR"
      local kept="nothing was replaced"
      [[ $was_active -eq 1 ]] && kept="nothing was replaced and the running service keeps running the old version"
      die "the new version rejects $CONFIG_FILE (above): $kept; fix the config and run this again"
    fi
  fi
  replace_app
  install_unit
  if [[ $config_ok -eq 0 ]]; then
    die "installed, but not started: $CONFIG_FILE is rejected (above); fix it (check it with: $APP_DIR/bin/maskwatch.js config check --config $CONFIG_FILE), then start it with: sudo systemctl start maskwatch"
  elif [[ $START -eq 1 || $was_active -eq 1 ]]; then
    if [[ $was_active -eq 1 ]]; then say "maskwatch was running: restarting it on the new version"; else say "starting maskwatch"; fi
    run systemctl restart "$SERVICE"
    say "done. Logs: journalctl -u maskwatch -f"
  else
    say "done. The service is enabled but not started."
    [[ ${NEW_CONFIG:-0} -eq 1 ]] && say "edit $CONFIG_FILE (camera.source, mqtt.url; check it with: $APP_DIR/bin/maskwatch.js config check --config $CONFIG_FILE)"
    say "then start it with: sudo systemctl start maskwatch"
  fi
}

main
