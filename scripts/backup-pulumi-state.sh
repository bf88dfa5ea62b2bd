#!/usr/bin/env bash
# Export the Pulumi checkpoint of every stack (or the given ones) to the state bucket.
# Usage: scripts/backup-pulumi-state.sh [-e ENV]... [-b BUCKET] [options]
#   -e|--environment VALUE       stack to export (repeatable; default: all)
#   -r|--region VALUE            AWS region (default: the stack's aws:region)
#   -b|--bucket VALUE            state bucket (default: from an s3:// PULUMI_BACKEND_URL)
#   -n|--dry-run                 show what would change, change nothing
# A thin wrapper: every option maps to an ollama-ops flag (see `ollama-ops <command> --help`).
set -euo pipefail

usage() {
  sed -n '2,/^# A thin wrapper/p' "$0" | sed 's/^# \{0,1\}//'
  exit "$1"
}

args=(backup state)
while [[ $# -gt 0 ]]; do
  case "$1" in
    -e|--environment)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--stack "$2")
      shift 2
      ;;
    -r|--region)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--region "$2")
      shift 2
      ;;
    -b|--bucket)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--bucket "$2")
      shift 2
      ;;
    -n|--dry-run)
      args+=(--dry-run)
      shift
      ;;
    -h|--help) usage 0 ;;
    *)
      echo "unknown option: $1" >&2
      usage 2
      ;;
  esac
done
exec ollama-ops "${args[@]}"
