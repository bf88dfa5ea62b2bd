#!/usr/bin/env bash
# Instance boot: packages, sshd hardening, CloudWatch agent, Ollama and the catalog's models,
# Open WebUI in Docker, then a health gate. Settings (names only, no secrets) come from
# /etc/ollama/boot.env; secrets are read from Secrets Manager through the instance role and
# only ever written to a 0600 env file. Any failure exits non-zero with an ERROR line, so a
# half-configured instance never passes its health checks. Safe to re-run by hand.
# Logs: /var/log/ollama-bootstrap.log; Ollama in the journal of its unit (ollama.service, or
# snap.ollama.listener.service with the snap); Open WebUI in the journal with tag open-webui
# (docker --log-driver journald). Facts about Ollama, Open WebUI and the CloudWatch agent used
# here are registered in docs/UPSTREAM.md with the version they were checked against.
set -euo pipefail

ROOT="${OLLAMA_BOOTSTRAP_ROOT:-}"
LOG="$ROOT/var/log/ollama-bootstrap.log"
if [[ -z ${OLLAMA_BOOT_LOGGING:-} ]]; then
  mkdir -p "$(dirname "$LOG")"
  export OLLAMA_BOOT_LOGGING=1
  set +e
  "$0" "$@" 2>&1 | tee -a "$LOG"
  exit "${PIPESTATUS[0]}"
fi

# shellcheck source=/dev/null
source "$ROOT/etc/ollama/boot.env"
: "${OLLAMA_ENV:?} ${AWS_REGION:?} ${CATALOG_TABLE:?} ${PARAMETER_PREFIX:?} ${SECRET_PREFIX:?}"
: "${INSTALL_METHOD:?} ${OLLAMA_VERSION:?} ${SNAP_CHANNEL:?} ${OLLAMA_LISTEN:?} ${NUM_PARALLEL:?}"
: "${MAX_QUEUE:?} ${KEEP_ALIVE:?} ${MODELS_DIR:?} ${GPU:?} ${WEBUI_IMAGE:?} ${ENABLE_SIGNUP:?}"
: "${CLOUDWATCH_AGENT_VERSION:?} ${OLLAMA_UNIT:?}"
export AWS_DEFAULT_REGION="$AWS_REGION"
HEALTH_RETRIES="${OLLAMA_HEALTH_RETRIES:-90}"
RETRY_DELAY="${OLLAMA_RETRY_DELAY:-10}"
ENV_FILE="$ROOT/etc/open-webui/open-webui.env"
SBIN="$ROOT/usr/local/sbin"
MODELS=()

log() { printf '%s ollama-boot: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
die() {
  log "ERROR: $*" >&2
  exit 1
}
trap 'rc=$?; ((rc == 0)) || { [[ -z ${LOCK_HELD:-} ]] || first_start_lock_release; log "ERROR: boot failed (exit $rc); see $LOG" >&2; }' EXIT

retry() { # retry N COMMAND...: run COMMAND up to N times
  local n=$1 i
  shift
  for ((i = 1; i <= n; i++)); do
    "$@" && return 0
    log "attempt $i of $n failed: $*"
    sleep "$RETRY_DELAY"
  done
  return 1
}

install_packages() {
  log "installing packages"
  export DEBIAN_FRONTEND=noninteractive
  retry 3 apt-get update -q || die "apt-get update failed"
  # zstd: the Ollama install script unpacks .tar.zst releases; pciutils: its GPU detection.
  retry 3 apt-get install -y -q --no-install-recommends docker.io jq curl zstd pciutils ||
    die "apt-get install failed"
  if ! command -v aws >/dev/null 2>&1; then
    retry 3 snap install aws-cli --classic || die "installing the AWS CLI failed"
  fi
  systemctl enable --now docker
}

harden_sshd() {
  # Applied even when SSH is closed in the security group: key-only, no root, no passwords.
  local conf="$ROOT/etc/ssh/sshd_config.d/10-ollama-hardening.conf"
  mkdir -p "$(dirname "$conf")"
  printf '%s\n' "PasswordAuthentication no" "KbdInteractiveAuthentication no" \
    "PermitRootLogin no" "PermitEmptyPasswords no" "PubkeyAuthentication yes" \
    "X11Forwarding no" "MaxAuthTries 3" >"$conf"
  chmod 0644 "$conf"
  systemctl try-reload-or-restart ssh
  log "sshd hardened ($conf)"
}

# get_param NAME: the value on stdout; status 3 when the parameter does not exist.
get_param() {
  local out
  if out=$(aws ssm get-parameter --name "$1" --query Parameter.Value --output text 2>&1); then
    printf '%s' "$out"
    return 0
  fi
  [[ $out == *ParameterNotFound* ]] && return 3
  log "ERROR: reading parameter $1 failed: $out" >&2
  return 1
}

# optional_param ROLE: sets PARAM (empty when absent); dies on any other error.
optional_param() {
  local rc=0
  PARAM=$(get_param "$PARAMETER_PREFIX/$1") || rc=$?
  case $rc in
    0) return 0 ;;
    3) PARAM="" ;;
    *) die "cannot read parameter $PARAMETER_PREFIX/$1" ;;
  esac
}

get_secret() { # get_secret ID: SecretString on stdout (never logged)
  aws secretsmanager get-secret-value --secret-id "$1" --query SecretString --output text ||
    die "cannot read secret $1 through the instance role"
}

# check_agent_version FILE: the agent config was checked against CLOUDWATCH_AGENT_VERSION; an
# older agent may lack its keys, a newer one is logged so the drift is visible.
check_agent_version() {
  local got
  got=$(cat "$1" 2>/dev/null) || die "cannot read the CloudWatch agent version from $1"
  if [[ "$(printf '%s\n' "$got" "$CLOUDWATCH_AGENT_VERSION" | sort -V | head -n 1)" != "$CLOUDWATCH_AGENT_VERSION" ]]; then
    die "CloudWatch agent $got is older than $CLOUDWATCH_AGENT_VERSION, the version its config was checked against"
  fi
  log "CloudWatch agent $got (config checked against $CLOUDWATCH_AGENT_VERSION)"
}

start_cloudwatch_agent() {
  local ctl="$ROOT/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl" deb
  if [[ ! -x $ctl ]]; then
    log "installing the CloudWatch agent"
    deb=$(mktemp --suffix=.deb)
    retry 3 curl -fsSL -o "$deb" "https://amazoncloudwatch-agent-$AWS_REGION.s3.$AWS_REGION.amazonaws.com/ubuntu/$(dpkg --print-architecture)/latest/amazon-cloudwatch-agent.deb" ||
      die "downloading the CloudWatch agent failed"
    dpkg -i -E "$deb"
    rm -f "$deb"
  fi
  check_agent_version "$(dirname "$ctl")/CWAGENT_VERSION"
  # The agent ships files: the journald forwarders copy the ollama unit's and the
  # open-webui container's journals to the files its config names.
  local unit units=()
  for unit in "$ROOT"/etc/systemd/system/ollama-log-forward-*.service; do
    [[ -e $unit ]] && units+=("$(basename "$unit")")
  done
  if ((${#units[@]})); then
    systemctl daemon-reload
    systemctl enable --now "${units[@]}"
  fi
  optional_param cloudwatch-agent/config
  if [[ -z $PARAM ]]; then
    log "WARNING: $PARAMETER_PREFIX/cloudwatch-agent/config does not exist; the agent is installed but not started"
    return 0
  fi
  "$ctl" -a fetch-config -m ec2 -s -c "ssm:$PARAMETER_PREFIX/cloudwatch-agent/config"
  log "CloudWatch agent started"
}

read_models() {
  local out
  # After `ollama-ops restore switch`, a parameter names the restored table to read instead.
  optional_param data/active-table
  if [[ -n $PARAM ]]; then
    [[ $PARAM =~ ^ollama-data-table-[a-z0-9-]+$ ]] || die "data/active-table names an unexpected table: $PARAM"
    CATALOG_TABLE=$PARAM
    log "model catalog switched to $CATALOG_TABLE ($PARAMETER_PREFIX/data/active-table)"
  fi
  if out=$(aws dynamodb query --table-name "$CATALOG_TABLE" \
    --key-condition-expression '#e = :e' --filter-expression '#n = :t' \
    --expression-attribute-names '{"#e":"environment","#n":"enabled"}' \
    --expression-attribute-values "{\":e\":{\"S\":\"$OLLAMA_ENV\"},\":t\":{\"BOOL\":true}}" \
    --query 'Items[].[model.S, digest.S]' --output json 2>&1); then
    # A pinned entry becomes name@sha256:<digest>; the installer verifies it after the pull.
    mapfile -t MODELS < <(jq -r '.[] | if .[1] then "\(.[0])@\(.[1])" else .[0] end' <<<"$out")
  elif [[ $out != *ResourceNotFoundException* ]]; then
    die "querying the model catalog $CATALOG_TABLE failed: $out"
  fi
  if ((${#MODELS[@]})); then
    log "model catalog $CATALOG_TABLE lists: ${MODELS[*]}"
    return 0
  fi
  optional_param ollama/default-models
  [[ -n $PARAM ]] || die "the model catalog is empty and $PARAMETER_PREFIX/ollama/default-models is missing"
  mapfile -t MODELS < <(jq -r '.[]' <<<"$PARAM")
  ((${#MODELS[@]})) || die "no models to serve: catalog and $PARAMETER_PREFIX/ollama/default-models are empty"
  log "model catalog empty; using $PARAMETER_PREFIX/ollama/default-models: ${MODELS[*]}"
}

install_ollama() {
  local args=(--method "$INSTALL_METHOD" --version "$OLLAMA_VERSION" --channel "$SNAP_CHANNEL"
    --host "$OLLAMA_LISTEN" --num-parallel "$NUM_PARALLEL" --max-queue "$MAX_QUEUE"
    --keep-alive "$KEEP_ALIVE" --models-dir "$MODELS_DIR") model
  [[ $GPU == true ]] && args+=(--gpu)
  for model in "${MODELS[@]}"; do
    args+=(--model "$model")
  done
  "$SBIN/ollama-install.sh" "${args[@]}" || die "installing Ollama or pulling the models failed"
  # The log forwarder follows this unit; if the install method named another one, every
  # Ollama metric and alarm would stay silent, so say it here instead.
  systemctl is-active --quiet "$OLLAMA_UNIT" ||
    die "Ollama's unit $OLLAMA_UNIT is not active; the log forwarder follows it, so Ollama's metrics would stay empty"
  log "Ollama runs as $OLLAMA_UNIT"
}

env_line() { # env_line KEY VALUE: one env-file line; values may not span lines
  [[ $2 != *$'\n'* ]] || die "$1 contains a newline and cannot go into the env file"
  printf '%s=%s\n' "$1" "$2"
}

uri() { printf '%s' "$1" | jq -sRr @uri; }

# cors_origins URL: CORS gets every public origin, ;-separated (webui/cors-origins: each of
# edge.domain_aliases), or URL alone where that parameter does not exist. Open WebUI refuses
# socket.io connections from any other origin.
cors_origins() {
  optional_param webui/cors-origins
  CORS=${PARAM:-$1}
}

webui_env() {
  local secret admin email password db host port name user pw login redis auth scheme storage url
  secret=$(get_secret "${SECRET_PREFIX}webui-secret-key")
  admin=$(get_secret "${SECRET_PREFIX}webui-admin")
  email=$(jq -r '.email' <<<"$admin")
  password=$(jq -r '.password' <<<"$admin")
  env_line OLLAMA_BASE_URL "http://host.docker.internal:11434"
  env_line WEBUI_SECRET_KEY "$secret"
  env_line ENABLE_SIGNUP "$ENABLE_SIGNUP"
  env_line WEBUI_ADMIN_EMAIL "$email"
  env_line WEBUI_ADMIN_PASSWORD "$password"
  env_line WEBUI_SESSION_COOKIE_SECURE true
  # Open WebUI's default, stated: settings it marks PersistentConfig (ENABLE_SIGNUP, WEBUI_URL,
  # OLLAMA_BASE_URL) come from this file on its first start only, then from its database,
  # shared by every instance; see docs/configuration.md.
  env_line ENABLE_PERSISTENT_CONFIG true
  optional_param webui/database
  if [[ -n $PARAM ]]; then
    db=$PARAM
    host=$(jq -r .host <<<"$db") port=$(jq -r .port <<<"$db") name=$(jq -r .dbname <<<"$db")
    # The login rotates between two users (alternating users): the secret names which.
    login=$(get_secret "$(jq -r .secret_arn <<<"$db")")
    user=$(jq -r .username <<<"$login") pw=$(jq -r .password <<<"$login")
    env_line DATABASE_URL "postgresql://$(uri "$user"):$(uri "$pw")@$host:$port/$name"
    env_line VECTOR_DB pgvector
    log "Open WebUI uses PostgreSQL at $host:$port/$name with pgvector" >&2
  else
    log "webui/database parameter absent: single-instance mode with the local SQLite database" >&2
  fi
  optional_param webui/redis
  if [[ -n $PARAM ]]; then
    redis=$PARAM
    auth=$(get_secret "${SECRET_PREFIX}redis-auth")
    scheme=redis
    [[ $(jq -r .tls <<<"$redis") == true ]] && scheme=rediss
    url="$scheme://:$(uri "$auth")@$(jq -r .host <<<"$redis"):$(jq -r .port <<<"$redis")/0"
    env_line REDIS_URL "$url"
    env_line WEBSOCKET_MANAGER redis
    env_line WEBSOCKET_REDIS_URL "$url"
    log "Open WebUI shares sessions and websockets through Redis" >&2
  else
    log "webui/redis parameter absent: websockets and config stay local to this instance" >&2
  fi
  optional_param webui/storage
  if [[ -n $PARAM ]]; then
    storage=$PARAM
    env_line STORAGE_PROVIDER s3
    env_line S3_BUCKET_NAME "$(jq -r .bucket <<<"$storage")"
    env_line S3_KEY_PREFIX "$(jq -r .prefix <<<"$storage")"
    env_line S3_REGION_NAME "$(jq -r .region <<<"$storage")"
    log "Open WebUI stores uploads in S3 with the instance role" >&2
  else
    log "webui/storage parameter absent: uploads stay on this instance's volume" >&2
  fi
  optional_param webui/public-url
  if [[ -n $PARAM ]]; then
    env_line WEBUI_URL "$PARAM"
    cors_origins "$PARAM"
    env_line CORS_ALLOW_ORIGIN "$CORS"
  else
    log "webui/public-url parameter absent: WEBUI_URL and CORS_ALLOW_ORIGIN left unset" >&2
  fi
}

start_open_webui() {
  local content hash current
  content=$(webui_env)
  mkdir -p "$(dirname "$ENV_FILE")"
  (
    umask 077
    printf '%s\n' "$content" >"$ENV_FILE"
  )
  chmod 0600 "$ENV_FILE"
  hash=$(printf '%s\n%s' "$WEBUI_IMAGE" "$content" | sha256sum | cut -c1-16)
  current=$(docker inspect -f '{{index .Config.Labels "ollama-infra.config"}}' open-webui 2>/dev/null || true)
  if [[ $current == "$hash" ]]; then
    log "Open WebUI already runs $WEBUI_IMAGE with this configuration"
    docker start open-webui >/dev/null
    return 0
  fi
  log "starting Open WebUI $WEBUI_IMAGE"
  retry 3 docker pull "$WEBUI_IMAGE" || die "pulling $WEBUI_IMAGE failed"
  log "Open WebUI keeps OLLAMA_BASE_URL from its first start in its database; the boot re-applies ENABLE_SIGNUP, WEBUI_URL, ENABLE_API_KEYS and model access once it is ready"
  docker rm -f open-webui >/dev/null 2>&1 || true
  docker run -d --name open-webui --restart unless-stopped -p 8080:8080 \
    --add-host host.docker.internal:host-gateway -v open-webui:/app/backend/data \
    --env-file "$ENV_FILE" --label "ollama-infra.config=$hash" \
    --log-driver journald --log-opt tag=open-webui "$WEBUI_IMAGE" >/dev/null
}

# /ready, not /health: it answers 200 only after Open WebUI's startup finished and its
# database (and Redis, when configured) answer, so the gate proves the shared state works.
# The ALB keeps /health (liveness) so a short database blip does not drain every target.
webui_ready() {
  curl -fsS --max-time 5 http://127.0.0.1:8080/ready | jq -e '.status == true' >/dev/null 2>&1
}

model_listed() { # model_listed NAME: /api/tags lists it (untagged names mean :latest)
  local name=${1%@*}
  [[ $name == *:* ]] || name="$name:latest"
  jq -e --arg m "$name" 'any(.models[]?; .name == $m or .model == $m)' <<<"$TAGS" >/dev/null
}

wait_webui_ready() {
  local i
  for ((i = 1; i <= HEALTH_RETRIES; i++)); do
    if webui_ready; then
      return 0
    fi
    ((i < HEALTH_RETRIES)) || die "health gate: Open WebUI /ready did not answer {\"status\": true} after $HEALTH_RETRIES attempts (startup, database or Redis not ready)"
    sleep "$RETRY_DELAY"
  done
}

health_gate() {
  local model missing
  wait_webui_ready
  TAGS=$(curl -fsS --max-time 10 http://127.0.0.1:11434/api/tags) ||
    die "health gate: Ollama /api/tags does not answer"
  missing=()
  for model in "${MODELS[@]}"; do
    model_listed "$model" || missing+=("$model")
  done
  ((${#missing[@]} == 0)) || die "health gate: Ollama /api/tags does not list required model(s): ${missing[*]}"
  log "health gate passed: Open WebUI /ready ok; Ollama serves ${MODELS[*]}"
}

# First-start lock. Two Open WebUI servers that initialize an empty database at the same
# moment both create the headless admin (docs/UPSTREAM.md), so each instance starts Open WebUI
# and applies the stack-owned settings while it holds one item in the stack's table: a
# conditional write that succeeds when the item is absent, its lease has expired, or this
# instance already holds it. An instance that dies holding it blocks the others for one lease.
LOCK_HELD=""

lock_owner() { printf '%s' "${FIRST_START_LOCK_OWNER:-${HOSTNAME:-instance}-$$}"; }

lock_key_json() {
  jq -cn --arg k "${FIRST_START_LOCK_KEY:?}" '{environment: {S: $k}, model: {S: "open-webui"}}'
}

first_start_lock_acquire() {
  local table=${FIRST_START_LOCK_TABLE:?} lease=${FIRST_START_LOCK_LEASE:-900}
  local poll=${FIRST_START_LOCK_POLL:-5} wait owner start now item values out said=""
  wait=${FIRST_START_LOCK_WAIT:-$((lease + 120))}
  owner=$(lock_owner)
  start=$(date +%s)
  while :; do
    now=$(date +%s)
    item=$(lock_key_json | jq -c --arg o "$owner" --arg x "$((now + lease))" \
      '. + {owner: {S: $o}, expires_at: {N: $x}}')
    values=$(jq -cn --arg n "$now" --arg o "$owner" '{":now": {N: $n}, ":me": {S: $o}}')
    if out=$(aws dynamodb put-item --table-name "$table" --item "$item" \
      --condition-expression 'attribute_not_exists(#e) OR #x < :now OR #o = :me' \
      --expression-attribute-names '{"#e":"environment","#x":"expires_at","#o":"owner"}' \
      --expression-attribute-values "$values" 2>&1); then
      LOCK_HELD=$owner
      log "first-start lock $FIRST_START_LOCK_KEY held by $owner (lease ${lease}s, table $table)"
      return 0
    fi
    [[ $out == *ConditionalCheckFailedException* ]] ||
      die "first-start lock: writing $FIRST_START_LOCK_KEY in $table failed: $out"
    ((now - start < wait)) || die "first-start lock: $FIRST_START_LOCK_KEY in $table stayed held by another instance for ${wait}s (lease ${lease}s); see that instance's $LOG"
    [[ -n $said ]] || log "first-start lock held by another instance; waiting up to ${wait}s"
    said=1
    sleep "$poll"
  done
}

first_start_lock_release() {
  local owner out values
  owner=${LOCK_HELD:-$(lock_owner)}
  values=$(jq -cn --arg o "$owner" '{":me": {S: $o}}')
  LOCK_HELD=""
  if out=$(aws dynamodb delete-item --table-name "${FIRST_START_LOCK_TABLE:?}" \
    --key "$(lock_key_json)" --condition-expression '#o = :me' \
    --expression-attribute-names '{"#o":"owner"}' --expression-attribute-values "$values" 2>&1); then
    log "first-start lock released by $owner"
    return 0
  fi
  if [[ $out == *ConditionalCheckFailedException* ]]; then
    log "WARNING: first-start lock was no longer held by $owner (its lease expired)"
    return 0
  fi
  log "WARNING: releasing the first-start lock failed ($out); it expires with its lease" >&2
  return 1
}

# Open WebUI's admin API, with the headless admin's credentials (local sign-in only).
WEBUI_TOKEN=""

# webui_call METHOD PATH: the response body on stdout, the request body (POST) from stdin;
# status 0 on 2xx, 4 on 404, 1 otherwise. Token and password never reach the command line.
webui_call() {
  local method=$1 path=$2 out code
  local args=(-sS --max-time 30 -X "$method" -H "Content-Type: application/json")
  out=$(mktemp)
  [[ $method == GET ]] || args+=(--data-binary @-)
  code=$(curl "${args[@]}" -H @<(printf 'Authorization: Bearer %s\n' "$WEBUI_TOKEN") \
    -o "$out" -w '%{http_code}' "${WEBUI_API:-http://127.0.0.1:8080}$path") || code=000
  cat "$out"
  rm -f "$out"
  case $code in
    2??) return 0 ;;
    404) return 4 ;;
    *)
      log "Open WebUI $method $path answered HTTP $code" >&2
      return 1
      ;;
  esac
}

webui_sign_in() {
  local out
  out=$(get_secret "${SECRET_PREFIX}webui-admin" | jq -c '{email, password}' |
    webui_call POST /api/v1/auths/signin) ||
    die "cannot sign in to Open WebUI as the headless admin (secret ${SECRET_PREFIX}webui-admin)"
  WEBUI_TOKEN=$(jq -r '.token // empty' <<<"$out")
  [[ -n $WEBUI_TOKEN ]] || die "Open WebUI sign-in returned no token"
}

# webui_group_id: the id of MODEL_ACCESS_GROUP, created when missing, its API-key permission
# following ENABLE_API_KEYS.
webui_group_id() {
  local groups group id keys=${ENABLE_API_KEYS:?}
  groups=$(webui_call GET /api/v1/groups/) || die "listing Open WebUI groups failed"
  group=$(jq -c --arg n "${MODEL_ACCESS_GROUP:?}" 'first(.[] | select(.name == $n)) // empty' <<<"$groups")
  if [[ -z $group ]]; then
    group=$(jq -cn --arg n "$MODEL_ACCESS_GROUP" --argjson k "$keys" '{name: $n,
      description: "Users of the stack catalog models (managed by the stack boot)",
      permissions: {features: {api_keys: $k}}}' | webui_call POST /api/v1/groups/create) ||
      die "creating Open WebUI group $MODEL_ACCESS_GROUP failed"
    log "created Open WebUI group $MODEL_ACCESS_GROUP" >&2
  elif [[ $(jq -r '.permissions.features.api_keys // false' <<<"$group") != "$keys" ]]; then
    id=$(jq -r .id <<<"$group")
    group=$(jq -c --argjson k "$keys" '{name, description, data,
      permissions: ((.permissions // {}) * {features: {api_keys: $k}})}' <<<"$group" |
      webui_call POST "/api/v1/groups/id/$(uri "$id")/update") ||
      die "updating Open WebUI group $MODEL_ACCESS_GROUP failed"
    log "Open WebUI group $MODEL_ACCESS_GROUP: API-key permission set to $keys" >&2
  fi
  id=$(jq -r '.id // empty' <<<"$group")
  [[ -n $id ]] || die "Open WebUI group $MODEL_ACCESS_GROUP has no id"
  printf '%s' "$id"
}

# grant_model_access: the catalog's models readable by MODEL_ACCESS_GROUP (group) or every
# user (public); admin-only grants nothing. Grants are added, never removed, and a model
# that already has its grant is left alone, so a second run changes nothing.
grant_model_access() {
  local mode=${MODEL_ACCESS:?} type id model grants body rc added=()
  case $mode in
    admin-only)
      log "model access admin-only: the stack grants no models; admins grant them in Open WebUI"
      return 0
      ;;
    group | public) ;;
    *) die "MODEL_ACCESS must be group, public or admin-only, not '$mode'" ;;
  esac
  [[ -n $WEBUI_TOKEN ]] || webui_sign_in
  type=user id='*'
  if [[ $mode == group ]]; then
    type=group
    id=$(webui_group_id) || exit 1
  fi
  for model in "${MODELS[@]}"; do
    model=${model%@*}
    [[ $model == *:* ]] || model="$model:latest"
    rc=0
    grants=$(webui_call GET "/api/v1/models/model?id=$(uri "$model")") || rc=$?
    case $rc in
      0) grants=$(jq -c '[.access_grants[]? | {principal_type, principal_id, permission}]' <<<"$grants") ;;
      4) grants='[]' ;;
      *) die "reading Open WebUI's access to model $model failed" ;;
    esac
    jq -e --arg t "$type" --arg p "$id" \
      'any(.[]; .principal_type == $t and .principal_id == $p and .permission == "read")' \
      <<<"$grants" >/dev/null && continue
    body=$(jq -cn --arg m "$model" --argjson g "$grants" --arg t "$type" --arg p "$id" \
      '{id: $m, name: $m, access_grants: ($g + [{principal_type: $t, principal_id: $p, permission: "read"}])}')
    webui_call POST /api/v1/models/model/access/update <<<"$body" >/dev/null ||
      die "granting model $model to $type $id in Open WebUI failed"
    added+=("$model")
  done
  if ((${#added[@]})); then
    log "model access $mode: granted ${added[*]} to $type $id"
  else
    log "model access $mode: every catalog model already granted to $type $id"
  fi
}

# apply_webui_settings: the settings the stack owns (docs/configuration.md), written through
# the admin API only when they differ, so Open WebUI's database never keeps a stale value.
apply_webui_settings() {
  local url gid="" current want
  [[ -n $WEBUI_TOKEN ]] || webui_sign_in
  optional_param webui/public-url
  url=$PARAM
  if [[ ${MODEL_ACCESS:?} == group ]]; then
    gid=$(webui_group_id) || exit 1
  fi
  current=$(webui_call GET /api/v1/auths/admin/config) || die "reading Open WebUI's admin settings failed"
  want=$(jq -c --argjson s "${ENABLE_SIGNUP:?}" --argjson k "${ENABLE_API_KEYS:?}" \
    --arg u "$url" --arg g "$gid" '.ENABLE_SIGNUP = $s | .ENABLE_API_KEYS = $k
      | if $u != "" then .WEBUI_URL = $u else . end
      | if $g != "" then .DEFAULT_GROUP_ID = $g else . end' <<<"$current")
  if [[ $(jq -S . <<<"$current") == "$(jq -S . <<<"$want")" ]]; then
    log "Open WebUI stack-owned settings already applied"
    return 0
  fi
  webui_call POST /api/v1/auths/admin/config <<<"$want" >/dev/null ||
    die "applying the stack-owned settings through Open WebUI's admin API failed"
  log "Open WebUI stack-owned settings applied: $(jq -c '{ENABLE_SIGNUP, ENABLE_API_KEYS, WEBUI_URL, DEFAULT_GROUP_ID}' <<<"$want")"
}

configure_webui() {
  if [[ ${SIGN_IN_MODE:-local} == oidc ]]; then
    log "single sign-on: no headless admin, so the stack applies no settings or model access through Open WebUI's API"
    return 0
  fi
  grant_model_access
  apply_webui_settings
}

# follow_secrets: the hourly check of ollama-follow-secrets.timer (at a random minute per
# instance, so instances rarely restart together). It renders Open WebUI's environment from the
# current secrets and parameters; when that differs from what the container was started with (a
# rotated database login or cache token, a new WEBUI_SECRET_KEY), it recreates the container
# and waits for /ready. A rotated database login never breaks an instance that has not
# followed yet: the previous login stays valid until the rotation after next.
follow_secrets() {
  local content hash current
  content=$(webui_env)
  hash=$(printf '%s\n%s' "$WEBUI_IMAGE" "$content" | sha256sum | cut -c1-16)
  current=$(docker inspect -f '{{index .Config.Labels "ollama-infra.config"}}' open-webui 2>/dev/null || true)
  if [[ $current == "$hash" ]]; then
    log "follow-secrets: Open WebUI runs with the current secrets"
    return 0
  fi
  log "follow-secrets: a secret or setting changed; recreating Open WebUI on this instance"
  start_open_webui
  wait_webui_ready
  log "follow-secrets: Open WebUI is ready with the current secrets"
}

enable_secret_follower() {
  local timer="ollama-follow-secrets.timer"
  [[ -e $ROOT/etc/systemd/system/$timer ]] || die "$timer is missing from the boot files"
  systemctl daemon-reload
  systemctl enable --now "$timer"
  log "$timer follows rotated secrets hourly"
}

main() {
  if [[ ${1:-} == follow-secrets ]]; then
    follow_secrets
    return 0
  fi
  log "boot of environment $OLLAMA_ENV in $AWS_REGION (Ollama $OLLAMA_VERSION by $INSTALL_METHOD, $WEBUI_IMAGE)"
  install_packages
  harden_sshd
  start_cloudwatch_agent
  read_models
  install_ollama
  first_start_lock_acquire
  start_open_webui
  health_gate
  configure_webui
  first_start_lock_release || true
  enable_secret_follower
  log "bootstrap complete"
}

main "$@"
