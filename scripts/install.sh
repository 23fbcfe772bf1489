#!/usr/bin/env bash
# Installs maskwatch as a systemd service on Raspberry Pi OS, Ubuntu or a Jetson (L4T).
# Safe to run again: the app is updated, an existing config is never overwritten.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: sudo scripts/install.sh [options]

Installs maskwatch from this checkout:
  app     <prefix>/opt/maskwatch            (the repository minus .git and node_modules; npm ci --omit=dev)
  config  <prefix>/etc/maskwatch/config.json (from config/example.json, only if absent)
  state   <prefix>/var/lib/maskwatch
  unit    <prefix>/etc/systemd/system/maskwatch.service
and the packages ffmpeg, gpiod (libgpiod tools), nodejs (if node is missing; Node >= 20 is required)
and a C++ toolchain so the optional unix-dgram module builds (systemd notifications from node itself).
Creates the system user maskwatch in the groups video and gpio (gpio is created if absent).

Options:
  --prefix DIR    install under DIR instead of / (a staging root; used by the tests)
  --dry-run       print each step, change nothing
  --with-broker   also install and enable the Mosquitto MQTT broker
  --no-start      enable the service but do not start it now
  --help          this text
EOF
}

PREFIX=""
DRY_RUN=0
WITH_BROKER=0
START=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --prefix)
      [[ $# -ge 2 && -n "$2" ]] || { echo "install.sh: --prefix needs a directory" >&2; exit 2; }
      PREFIX="${2%/}"; shift 2 ;;
    --prefix=*) PREFIX="${1#--prefix=}"; PREFIX="${PREFIX%/}"; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --with-broker) WITH_BROKER=1; shift ;;
    --no-start) START=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APP_DIR="$PREFIX/opt/maskwatch"
CONFIG_DIR="$PREFIX/etc/maskwatch"
STATE_DIR="$PREFIX/var/lib/maskwatch"
UNIT_DIR="$PREFIX/etc/systemd/system"
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
  local packages=(ffmpeg gpiod g++ make python3)
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

install_app() {
  say "installing the app to $APP_DIR"
  if [[ -d "$APP_DIR" && "$(cd "$SRC" && pwd -P)" == "$(cd "$APP_DIR" && pwd -P)" ]]; then
    say "running from $APP_DIR itself: files stay as they are"
  elif [[ $DRY_RUN -eq 1 ]]; then
    printf '[dry-run] copy %s -> %s (without .git, node_modules, var, tmp, out, *.log)\n' "$SRC" "$APP_DIR"
  else
    # Replace the previous version's files (keeping nothing stale), then copy, owned by root.
    mkdir -p "$APP_DIR"
    find "$APP_DIR" -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {} +
    tar -C "$SRC" --exclude=./.git --exclude=./node_modules --exclude=./var --exclude=./tmp --exclude=./out \
      --exclude=.cache --exclude='*.log' -cf - . | tar -C "$APP_DIR" --no-same-owner -xf -
  fi
  run chmod 0755 "$APP_DIR/bin/maskwatch.js"
  (cd "$APP_DIR" 2>/dev/null || cd "$SRC"; run npm ci --omit=dev --no-audit --no-fund)
}

install_config() {
  run mkdir -p "$CONFIG_DIR" "$STATE_DIR"
  if [[ -e "$CONFIG_DIR/config.json" ]]; then
    say "keeping the existing $CONFIG_DIR/config.json"
  else
    [[ -f "$SRC/config/example.json" ]] || die "config/example.json is missing from $SRC"
    say "writing $CONFIG_DIR/config.json from config/example.json"
    run install -m 0640 "$SRC/config/example.json" "$CONFIG_DIR/config.json"
    run chgrp "$SERVICE_USER" "$CONFIG_DIR/config.json"
  fi
  run chown "$SERVICE_USER:$SERVICE_USER" "$STATE_DIR"
  run chmod 0750 "$STATE_DIR"
}

install_unit() {
  say "installing $UNIT_DIR/maskwatch.service (node: $NODE_BIN)"
  run mkdir -p "$UNIT_DIR"
  if [[ $DRY_RUN -eq 1 ]]; then
    printf '[dry-run] write %s/maskwatch.service\n' "$UNIT_DIR"
  else
    local tmp="$UNIT_DIR/.maskwatch.service.tmp"
    sed "s#^ExecStart=/usr/bin/node #ExecStart=$NODE_BIN #" "$SRC/systemd/maskwatch.service" > "$tmp"
    chmod 0644 "$tmp"
    mv -f "$tmp" "$UNIT_DIR/maskwatch.service"
  fi
  run systemctl daemon-reload
  if [[ $START -eq 1 ]]; then
    run systemctl enable --now maskwatch.service
  else
    run systemctl enable maskwatch.service
  fi
  if [[ $WITH_BROKER -eq 1 ]]; then
    if [[ $START -eq 1 ]]; then run systemctl enable --now mosquitto.service; else run systemctl enable mosquitto.service; fi
  fi
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
  install_app
  install_config
  install_unit
  say "done. Config: $CONFIG_DIR/config.json  Logs: journalctl -u maskwatch -f"
}

main
