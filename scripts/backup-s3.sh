#!/usr/bin/env bash
# Replication status of the storage bucket to its DR bucket; --sync copies what is missing.
# Usage: scripts/backup-s3.sh -e ENV [options]
#   -e|--environment VALUE       stack: dev, staging or production (required)
#   -r|--region VALUE            AWS region (default: the stack's aws:region)
#   -d|--dest-bucket VALUE       DR bucket (default: the replication destination)
#   --dest-region VALUE          region of the DR bucket
#   -s|--sync                    copy objects missing in the DR bucket
#   -j|--json                    print JSON
#   -n|--dry-run                 show what would change, change nothing
# A thin wrapper: every option maps to an ollama-ops flag (see `ollama-ops <command> --help`).
set -euo pipefail

usage() {
  sed -n '2,/^# A thin wrapper/p' "$0" | sed 's/^# \{0,1\}//'
  exit "$1"
}

args=(backup s3)
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
    -d|--dest-bucket)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--dest-bucket "$2")
      shift 2
      ;;
    --dest-region)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--dest-region "$2")
      shift 2
      ;;
    -s|--sync)
      args+=(--sync)
      shift
      ;;
    -j|--json)
      args+=(--json)
      shift
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
