#!/usr/bin/env bash
# Remove what ollama-install.sh added: the Ollama service and its settings, the binaries
# or the snap, and (unless --keep-models) the downloaded models. Asks for confirmation
# unless --yes. Idempotent: running it again when nothing is left succeeds.
#
# Usage: ollama-cleanup.sh --method script|snap [--models-dir DIR] [--keep-models] [--yes]
#   --method script|snap   how Ollama was installed
#   --models-dir DIR       OLLAMA_MODELS used at install (default /var/lib/ollama/models)
#   --keep-models          leave the models directory in place
#   --yes                  do not ask for confirmation
# Environment: OLLAMA_BOOTSTRAP_ROOT prefixes every path removed (image builds, tests).
set -euo pipefail

ROOT="${OLLAMA_BOOTSTRAP_ROOT:-}"
METHOD="" MODELS_DIR=/var/lib/ollama/models KEEP_MODELS=0 YES=0

log() { printf '%s ollama-cleanup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
die() {
  log "ERROR: $*" >&2
  exit 1
}
usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; }

parse_args() {
  while (($#)); do
    case "$1" in
      --yes) YES=1 ;;
      --keep-models) KEEP_MODELS=1 ;;
      -h | --help) usage && exit 0 ;;
      --method | --models-dir)
        [[ $# -ge 2 && -n $2 && $2 != --* ]] || die "$1 needs a value (see --help)"
        if [[ $1 == --method ]]; then METHOD=$2; else MODELS_DIR=$2; fi
        shift
        ;;
      *) die "unknown argument '$1' (see --help)" ;;
    esac
    shift
  done
  [[ $METHOD =~ ^(script|snap)$ ]] || die "--method '$METHOD' is invalid: use script or snap"
  [[ $MODELS_DIR =~ ^/[A-Za-z0-9._/-]+$ && $MODELS_DIR != */ ]] ||
    die "--models-dir '$MODELS_DIR' is invalid: use an absolute path without spaces"
  [[ -n $ROOT || $EUID -eq 0 ]] || die "run as root (or set OLLAMA_BOOTSTRAP_ROOT)"
}

confirm() {
  ((YES)) && return 0
  local what="Ollama ($METHOD install)" answer=""
  ((KEEP_MODELS)) || what="$what and the models in $MODELS_DIR"
  printf 'Remove %s? Type yes to continue: ' "$what" >&2
  read -r answer || true
  [[ $answer == yes ]] || die "not confirmed; nothing was removed"
}

remove_script_install() {
  systemctl disable --now ollama >/dev/null 2>&1 || true
  rm -rf "$ROOT/etc/systemd/system/ollama.service.d"
  rm -f "$ROOT/etc/systemd/system/ollama.service" "$ROOT/usr/local/bin/ollama"
  rm -rf "$ROOT/usr/local/lib/ollama"
  if id ollama >/dev/null 2>&1; then
    userdel ollama
  fi
  systemctl daemon-reload
}

remove_snap_install() {
  if snap list ollama >/dev/null 2>&1; then
    snap remove --purge ollama
  fi
}

main() {
  parse_args "$@"
  confirm
  if [[ $METHOD == script ]]; then
    remove_script_install
  else
    remove_snap_install
  fi
  if ((KEEP_MODELS)); then
    log "kept the models in $MODELS_DIR"
  else
    rm -rf "${ROOT}${MODELS_DIR:?}"
  fi
  log "Ollama removed"
}

main "$@"
