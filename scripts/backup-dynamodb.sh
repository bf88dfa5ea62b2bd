#!/usr/bin/env bash
# On-demand backup of the model catalog table, optionally exported to S3.
# Usage: scripts/backup-dynamodb.sh -e ENV [options]
#   -e|--environment VALUE       stack: dev, staging or production (required)
#   -r|--region VALUE            AWS region (default: the stack's aws:region)
#   -l|--label VALUE             word added to the backup name
#   -b|--export-bucket VALUE     also export the table to this bucket (needs PITR)
#   -n|--dry-run                 show what would change, change nothing
# A thin wrapper: every option maps to an ollama-ops flag (see `ollama-ops <command> --help`).
set -euo pipefail

usage() {
  sed -n '2,/^# A thin wrapper/p' "$0" | sed 's/^# \{0,1\}//'
  exit "$1"
}

args=(backup dynamodb)
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
    -l|--label)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--label "$2")
      shift 2
      ;;
    -b|--export-bucket)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--export-bucket "$2")
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
