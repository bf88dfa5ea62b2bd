#!/usr/bin/env bash
# Deploy a copy of a stack in another region (backup-and-restore DR).
# Usage: scripts/deploy-to-alternate-region.sh -e ENV -t REGION [options]
#   -e|--environment VALUE       stack: dev, staging or production (required)
#   -t|--target-region VALUE     the DR region (required)
#   --dr-stack VALUE             name of the DR stack (default: ENV-REGION)
#   -c|--certificate-arn VALUE   ACM certificate in the DR region
#   --ami-id VALUE               baked AMI to copy (default: the stack's)
#   -y|--yes                     do not ask for confirmation
#   -n|--dry-run                 show what would change, change nothing
#   --production                 required to act on production
# A thin wrapper: every option maps to an ollama-ops flag (see `ollama-ops <command> --help`).
set -euo pipefail

usage() {
  sed -n '2,/^# A thin wrapper/p' "$0" | sed 's/^# \{0,1\}//'
  exit "$1"
}

args=(dr deploy-region)
while [[ $# -gt 0 ]]; do
  case "$1" in
    -e|--environment)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--stack "$2")
      shift 2
      ;;
    -t|--target-region)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--target-region "$2")
      shift 2
      ;;
    --dr-stack)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--dr-stack "$2")
      shift 2
      ;;
    -c|--certificate-arn)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--certificate-arn "$2")
      shift 2
      ;;
    --ami-id)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; usage 2; }
      args+=(--ami-id "$2")
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
