# edge.backend_tls: appended to ollama-boot.sh for such stacks only (ollama_infra.userdata,
# which drops these comment lines from the user data to stay under its 16 KB limit).
# nginx terminates the ALB's TLS with this instance's own self-signed certificate, made at its
# first boot (the key is root-only and never leaves the instance), and forwards to Open WebUI
# and Ollama on 127.0.0.1. Facts relied on: docs/UPSTREAM.md (nginx, ALB).
: "${WEBUI_TLS_PORT:?} ${OLLAMA_TLS_PORT:?} ${PROXY_TIMEOUT:?}"
TLS=/etc/ollama/tls

eval "start_local_open_webui() $(declare -f start_open_webui | tail -n +2)"
eval "health_gate_local() $(declare -f health_gate | tail -n +2)"

# One TLS server per service. For Open WebUI and Ollama: websocket upgrades (socket.io), token
# streams and uploads passed on as they flow (no buffering), no upload cap (Open WebUI has its
# own), read/send timeouts and keep-alive longer than the ALB's idle timeout.
proxy_server() { # proxy_server LISTEN_PORT UPSTREAM_PORT
  cat <<EOF
server {
 listen $1 ssl;
 ssl_certificate $TLS/backend.crt;
 ssl_certificate_key $TLS/backend.key;
 ssl_protocols TLSv1.2 TLSv1.3;
 keepalive_timeout ${PROXY_TIMEOUT}s;
 client_max_body_size 0;
 location / {
  proxy_pass http://127.0.0.1:$2;
  proxy_http_version 1.1;
  proxy_set_header Host \$host;
  proxy_set_header Upgrade \$http_upgrade;
  proxy_set_header Connection \$connection_upgrade;
  proxy_buffering off;
  proxy_request_buffering off;
  proxy_read_timeout ${PROXY_TIMEOUT}s;
  proxy_send_timeout ${PROXY_TIMEOUT}s;
 }
}
EOF
}

start_tls_proxy() {
  local conf=$ROOT/etc/nginx/conf.d/ollama-backend-tls.conf
  retry 3 apt-get install -y -q --no-install-recommends nginx openssl || die "installing nginx failed"
  if [[ ! -s $ROOT$TLS/backend.key ]]; then
    install -d -m 0700 "$ROOT$TLS"
    (umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=ollama-$OLLAMA_ENV" \
      -keyout "$ROOT$TLS/backend.key" -out "$ROOT$TLS/backend.crt") || die "openssl req failed"
    log "made this instance's TLS key and self-signed certificate ($TLS)"
  fi
  mkdir -p "${conf%/*}"
  {
    # shellcheck disable=SC2016 # nginx variables, written literally
    printf '%s\n' 'map $http_upgrade $connection_upgrade {' ' default upgrade;' " '' close;" '}'
    proxy_server "$WEBUI_TLS_PORT" 8080
    proxy_server "$OLLAMA_TLS_PORT" 11434
  } >"$conf"
  # The package's default site serves plain HTTP on port 80.
  rm -f "$ROOT/etc/nginx/sites-enabled/default"
  nginx -t || die "nginx rejects $conf"
  systemctl enable nginx
  systemctl reload-or-restart nginx
}

start_open_webui() {
  start_local_open_webui
  start_tls_proxy
}

# The ALB's health check paths, through the proxy (-k: the certificate is self-signed).
health_gate() {
  health_gate_local
  curl -kfsS --max-time 5 -o /dev/null "https://127.0.0.1:$WEBUI_TLS_PORT/health" ||
    die "health gate: Open WebUI does not answer through the TLS proxy"
  curl -kfsS --max-time 10 -o /dev/null "https://127.0.0.1:$OLLAMA_TLS_PORT/api/tags" ||
    die "health gate: Ollama does not answer through the TLS proxy"
  log "health gate: the TLS proxy serves $WEBUI_TLS_PORT and $OLLAMA_TLS_PORT"
}
