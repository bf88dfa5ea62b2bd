#!/usr/bin/env bash
# Restore the table, storage objects or Pulumi state; always into new resources first.
# Usage: scripts/restore-from-backup.sh dynamodb|switch|s3|state -e ENV [options]
#   dynamodb|switch|s3|state     what to restore (must be the first argument)
#   -e|--environment VALUE       stack: dev, staging or production (required)
#   -r|--region VALUE            AWS region (default: the stack's aws:region)
#   --backup-arn VALUE           dynamodb: on-demand backup to restore
#   --point-in-time VALUE        dynamodb: ISO 8601 time to restore to
#   --latest                     dynamodb: latest restorable time
#   --target-table VALUE         dynamodb: name of the new table
#   --switch                     dynamodb: make the restored table active
#   --table VALUE                switch: table to make active
#   --key VALUE                  s3: object key
#   --prefix VALUE               s3: every object under this prefix
#   --version-id VALUE           s3: version to restore
#   --before VALUE               s3: restore objects to their state at this time
#   --file VALUE                 state: checkpoint file
#   --s3-uri VALUE               state: s3://bucket/key of a checkpoint
#   -y|--yes                     do not ask for confirmation
#   -n|--dry-run                 show what would change, change nothing
#   --production                 required to act on production
# A thin wrapper: every option maps to an ollama-ops flag (see `ollama-ops <command> --help`).
set -euo pipefail

usage() {
  sed -n '2,/^# A thin wrapper/p' "$0" | sed 's/^# \{0,1\}//'
  exit "$1"
}

args=(restore)
[[ $# -ge 1 ]] || usage 2
case "$1" in
  dynamodb|switch|s3|state)
    args+=("$1")
    shift
    ;;
  -h|--help) usage 0 ;;
  *)
    echo "the first argument must be dynamodb, switch, s3 or state" >&2
    usage 2
    ;;
esac
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
    --backup-arn)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--backup-arn "$2")
      shift 2
      ;;
    --point-in-time)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--point-in-time "$2")
      shift 2
      ;;
    --latest)
      args+=(--latest)
      shift
      ;;
    --target-table)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--target-table "$2")
      shift 2
      ;;
    --switch)
      args+=(--switch)
      shift
      ;;
    --table)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--table "$2")
      shift 2
      ;;
    --key)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--key "$2")
      shift 2
      ;;
    --prefix)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--prefix "$2")
      shift 2
      ;;
    --version-id)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--version-id "$2")
      shift 2
      ;;
    --before)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--before "$2")
      shift 2
      ;;
    --file)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--file "$2")
      shift 2
      ;;
    --s3-uri)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--s3-uri "$2")
      shift 2
      ;;
    -y|--yes)
      args+=(--yes)
      shift
      ;;
    -n|--dry-run)
      args+=(--dry-run)
      shift
      ;;
    --production)
      args+=(--production)
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
