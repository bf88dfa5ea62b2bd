#!/usr/bin/env bash
# Install and configure Ollama on an Ubuntu host, then pull the given models.
# Used by hand on a host, by an AMI build, and by the instance bootstrap (the user data
# embeds this file). Idempotent: a second run with the same arguments downloads nothing,
# rewrites nothing and restarts nothing.
#
# Usage: ollama-install.sh --method script|snap --version X.Y.Z [options] [--model NAME]...
#   --method script|snap   official install script pinned to --version, or the community snap
#   --version X.Y.Z        Ollama version (script method: OLLAMA_VERSION; the snap's channel
#                          decides its version, which is logged and must not be below MIN_VERSION)
#   --channel CHANNEL      snap channel (default latest/stable); refresh is held afterwards
#   --host ADDR:PORT       OLLAMA_HOST (default 0.0.0.0:11434; the security group admits the ALB only)
#   --num-parallel N       OLLAMA_NUM_PARALLEL (default 1)
#   --max-queue N          OLLAMA_MAX_QUEUE (default 512)
#   --keep-alive D         OLLAMA_KEEP_ALIVE (default 5m)
#   --models-dir DIR       OLLAMA_MODELS (default /var/lib/ollama/models)
#   --gpu                  require a working NVIDIA driver after the install (the script method
#                          installs it; with the snap it must already be in the image)
#   --model NAME           pull this model (repeatable); names are validated before any pull
# Environment: OLLAMA_BOOTSTRAP_ROOT prefixes every file written (image builds, tests);
# OLLAMA_PULL_RETRIES, OLLAMA_WAIT_RETRIES, OLLAMA_RETRY_DELAY bound the retries.
set -euo pipefail

ROOT="${OLLAMA_BOOTSTRAP_ROOT:-}"
# Same rule as ollama_infra.config.MODEL_RE (a test keeps the two equal).
MODEL_RE='^[a-z0-9][a-z0-9._-]{0,63}(/[a-z0-9][a-z0-9._-]{0,63})?(:[a-zA-Z0-9][a-zA-Z0-9._-]{0,127})?(@sha256:[a-f0-9]{64})?$'
# Oldest Ollama whose log lines the metric filters parse; same as
# ollama_infra.versions.OLLAMA_MIN_VERSION (a test keeps the two equal).
MIN_VERSION=0.30.0
API="http://127.0.0.1:11434"
PULL_RETRIES="${OLLAMA_PULL_RETRIES:-3}"
WAIT_RETRIES="${OLLAMA_WAIT_RETRIES:-30}"
RETRY_DELAY="${OLLAMA_RETRY_DELAY:-5}"

METHOD="" VERSION="" CHANNEL="latest/stable" HOST="0.0.0.0:11434" NUM_PARALLEL=1
MAX_QUEUE=512 KEEP_ALIVE=5m MODELS_DIR=/var/lib/ollama/models GPU=0
MODELS=()
CHANGED=0

log() { printf '%s ollama-install: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
die() {
  log "ERROR: $*" >&2
  exit 1
}
usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; }

parse_args() {
  while (($#)); do
    case "$1" in
      --gpu) GPU=1 && shift && continue ;;
      -h | --help) usage && exit 0 ;;
      --method | --version | --channel | --host | --num-parallel | --max-queue | --keep-alive) ;;
      --models-dir | --model) ;;
      *) die "unknown argument '$1' (see --help)" ;;
    esac
    [[ $# -ge 2 && -n $2 && $2 != --* ]] || die "$1 needs a value (see --help)"
    case "$1" in
      --method) METHOD=$2 ;;
      --version) VERSION=$2 ;;
      --channel) CHANNEL=$2 ;;
      --host) HOST=$2 ;;
      --num-parallel) NUM_PARALLEL=$2 ;;
      --max-queue) MAX_QUEUE=$2 ;;
      --keep-alive) KEEP_ALIVE=$2 ;;
      --models-dir) MODELS_DIR=$2 ;;
      --model) MODELS+=("$2") ;;
    esac
    shift 2
  done
}

check() { # check NAME VALUE REGEX RULE
  [[ $2 =~ $3 ]] || die "$1 '$2' is invalid: $4"
}

at_least() { # at_least VERSION MINIMUM: VERSION (a leading v ignored) >= MINIMUM
  [[ "$(printf '%s\n' "${1#v}" "$2" | sort -V | head -n 1)" == "$2" ]]
}

validate() {
  check --method "$METHOD" '^(script|snap)$' "use script or snap"
  check --version "$VERSION" '^[0-9]+\.[0-9]+\.[0-9]+$' "use an exact version such as $MIN_VERSION"
  at_least "$VERSION" "$MIN_VERSION" ||
    die "--version $VERSION is older than $MIN_VERSION, whose log lines the metric filters parse"
  check --channel "$CHANNEL" '^[a-z0-9][a-z0-9./-]*$' "use a snap channel such as latest/stable"
  check --host "$HOST" '^[0-9.]+:[0-9]{1,5}$' "use ADDRESS:PORT such as 0.0.0.0:11434"
  check --num-parallel "$NUM_PARALLEL" '^[1-9][0-9]*$' "use a positive integer"
  check --max-queue "$MAX_QUEUE" '^[1-9][0-9]*$' "use a positive integer"
  check --keep-alive "$KEEP_ALIVE" '^(-1|0|[0-9]+(ms|s|m|h))$' "use a duration such as 30m"
  check --models-dir "$MODELS_DIR" '^/[A-Za-z0-9._/-]+$' "use an absolute path without spaces"
  if [[ $METHOD == snap && $MODELS_DIR != /var/snap/ollama/* ]]; then
    die "--models-dir '$MODELS_DIR' is outside the snap's confinement: use /var/snap/ollama/common/models"
  fi
  local model
  for model in "${MODELS[@]}"; do
    check --model "$model" "$MODEL_RE" "use name[:tag][@sha256:digest], lowercase, e.g. llama3.2:1b"
  done
  if [[ -z $ROOT && $EUID -ne 0 ]]; then
    die "run as root (or set OLLAMA_BOOTSTRAP_ROOT for a staged install)"
  fi
}

write_if_changed() { # write_if_changed FILE CONTENT: returns 0 when the file changed
  if [[ -f $1 && "$(cat "$1")" == "$2" ]]; then
    return 1
  fi
  mkdir -p "$(dirname "$1")"
  printf '%s\n' "$2" >"$1"
}

installed_version() {
  command -v ollama >/dev/null 2>&1 || return 0
  ollama --version 2>/dev/null | sed -n 's/.*version is \([0-9.]*\).*/\1/p' | tail -n 1
}

install_with_script() {
  if [[ "$(installed_version)" == "$VERSION" ]]; then
    log "Ollama $VERSION is already installed"
  else
    # The installer unpacks a .tar.zst release and stops without zstd.
    command -v zstd >/dev/null 2>&1 ||
      die "zstd is missing: the Ollama install script needs it (apt-get install zstd)"
    log "installing Ollama $VERSION with the install script of tag v$VERSION"
    local installer
    installer=$(mktemp)
    # The installer of the pinned tag, so its prerequisites are the ones docs/UPSTREAM.md
    # records for this version.
    curl -fsSL --retry 3 -o "$installer" \
      "https://raw.githubusercontent.com/ollama/ollama/v$VERSION/scripts/install.sh"
    OLLAMA_VERSION="$VERSION" sh "$installer"
    rm -f "$installer"
    CHANGED=1
  fi
  # The install script rewrites ollama.service, so settings live in a drop-in.
  local dropin="$ROOT/etc/systemd/system/ollama.service.d/10-ollama-infra.conf"
  if write_if_changed "$dropin" "[Service]
Environment=OLLAMA_HOST=$HOST
Environment=OLLAMA_NUM_PARALLEL=$NUM_PARALLEL
Environment=OLLAMA_MAX_QUEUE=$MAX_QUEUE
Environment=OLLAMA_KEEP_ALIVE=$KEEP_ALIVE
Environment=OLLAMA_MODELS=$MODELS_DIR"; then
    log "wrote $dropin"
    CHANGED=1
  fi
  mkdir -p "$ROOT$MODELS_DIR"
  chown ollama:ollama "$ROOT$MODELS_DIR"
  systemctl daemon-reload
  systemctl enable ollama
  if [[ $CHANGED == 1 ]]; then
    systemctl restart ollama
  else
    systemctl start ollama
  fi
}

install_with_snap() {
  local tracking
  tracking=$(snap list ollama 2>/dev/null | awk 'NR == 2 {print $4}' || true)
  if [[ -z $tracking ]]; then
    log "installing the ollama snap from $CHANNEL"
    snap install ollama --channel="$CHANNEL"
    CHANGED=1
  elif [[ $tracking != "$CHANNEL" ]]; then
    log "switching the ollama snap from $tracking to $CHANNEL"
    snap refresh ollama --channel="$CHANNEL"
    CHANGED=1
  else
    log "the ollama snap already tracks $CHANNEL"
  fi
  # An auto-refresh restarts the daemon mid-generation; upgrades go through instance refresh.
  snap refresh --hold ollama
  # The channel, not --version, decides what the snap runs: log it, refuse one too old.
  local snap_version
  snap_version=$(snap list ollama 2>/dev/null | awk 'NR == 2 {print $2}' || true)
  at_least "${snap_version:-0}" "$MIN_VERSION" ||
    die "the ollama snap on $CHANNEL is version ${snap_version:-unknown}, older than $MIN_VERSION whose log lines the metric filters parse; pick a newer channel or --method script"
  log "the ollama snap on $CHANNEL runs Ollama ${snap_version#v} (pinned version for the script method: $VERSION)"
  local key wanted settings=()
  for key in host=$HOST num-parallel=$NUM_PARALLEL max-queue=$MAX_QUEUE \
    keep-alive=$KEEP_ALIVE models=$MODELS_DIR; do
    wanted=${key#*=}
    if [[ "$(snap get ollama "${key%%=*}" 2>/dev/null || true)" != "$wanted" ]]; then
      settings+=("$key")
    fi
  done
  if ((${#settings[@]})); then
    snap set ollama "${settings[@]}"
    CHANGED=1
  fi
  mkdir -p "$ROOT$MODELS_DIR"
  if [[ $CHANGED == 1 ]]; then
    snap restart ollama
  fi
}

wait_for_ollama() {
  local i
  for ((i = 1; i <= WAIT_RETRIES; i++)); do
    if curl -fsS --max-time 5 "$API/api/version" >/dev/null 2>&1; then
      return 0
    fi
    sleep "$RETRY_DELAY"
  done
  die "Ollama did not answer on $API/api/version after $WAIT_RETRIES attempts"
}

has_model() { # has_model NAME: whether /api/tags lists it (an untagged name means :latest)
  local name=${1%@*}
  [[ $name == *:* ]] || name="$name:latest"
  curl -fsS --max-time 10 "$API/api/tags" |
    jq -e --arg m "$name" 'any(.models[]?; .name == $m or .model == $m)' >/dev/null
}

# check_digest NAME@sha256:HEX: the pulled model is the pinned one. Ollama pulls by tag, so a
# tag that moved in the registry shows up here instead of serving a different model.
check_digest() {
  local name=${1%@*} pin=${1##*@sha256:} got
  [[ $name == *:* ]] || name="$name:latest"
  got=$(curl -fsS --max-time 10 "$API/api/tags" |
    jq -r --arg m "$name" 'first(.models[]? | select(.name == $m or .model == $m) | .digest) // ""')
  got=${got#sha256:}
  [[ $got == "$pin" ]] ||
    die "model $name has digest ${got:-none}, but sha256:$pin is pinned: the tag moved in the registry; pin the new digest or another tag"
  log "model $name matches its pinned digest"
}

pull_models() {
  local model i
  for model in "${MODELS[@]}"; do
    if has_model "$model"; then
      log "model $model is already present"
    else
      for ((i = 1; i <= PULL_RETRIES; i++)); do
        log "pulling model ${model%@*} (attempt $i of $PULL_RETRIES)"
        if ollama pull "${model%@*}"; then
          break
        fi
        ((i < PULL_RETRIES)) || die "model pull failed: $model after $PULL_RETRIES attempts"
        sleep "$RETRY_DELAY"
      done
    fi
    [[ $model != *@sha256:* ]] || check_digest "$model"
  done
}

main() {
  parse_args "$@"
  validate
  log "method=$METHOD version=$VERSION host=$HOST models=${MODELS[*]:-none}"
  if [[ $METHOD == script ]]; then
    install_with_script
  else
    install_with_snap
  fi
  if [[ $GPU == 1 ]]; then
    nvidia-smi >/dev/null || die "GPU profile: nvidia-smi fails, so Ollama would run on the CPU"
  fi
  wait_for_ollama
  pull_models
  log "Ollama is installed and configured"
}

main "$@"
