# edge.backend_tls: appended to ollama-boot.sh for such stacks only (ollama_infra.userdata).
# nginx terminates the ALB's TLS with this instance's self-signed certificate and forwards to
# Open WebUI and Ollama on 127.0.0.1; docs/SECURITY.md and docs/UPSTREAM.md say why.
: "${WEBUI_TLS_PORT:?} ${OLLAMA_TLS_PORT:?} ${PROXY_TIMEOUT:?}"
TLS_DIR=/etc/ollama/tls
PROXY_CONF="$ROOT/etc/nginx/conf.d/ollama-backend-tls.conf"

eval "install_base_packages() $(declare -f install_packages | tail -n +2)"
eval "start_local_open_webui() $(declare -f start_open_webui | tail -n +2)"
eval "health_gate_local() $(declare -f health_gate | tail -n +2)"

install_packages() {
  install_base_packages
  retry 3 apt-get install -y -q --no-install-recommends nginx openssl ||
    die "apt-get install of the TLS proxy (nginx, openssl) failed"
}

# Generated once per instance, at its first boot; the key stays root-only on the instance.
backend_certificate() {
  local key="$ROOT$TLS_DIR/backend.key" crt="$ROOT$TLS_DIR/backend.crt"
  [[ -s $key && -s $crt ]] && return 0
  install -d -m 0700 "$ROOT$TLS_DIR"
  (
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -subj "/CN=ollama-backend-$OLLAMA_ENV" -keyout "$key" -out "$crt"
  ) || die "generating the backend TLS key and certificate failed"
  chmod 0600 "$key"
  chmod 0644 "$crt"
  log "generated this instance's backend TLS certificate in $TLS_DIR"
}

# Websocket upgrades, token streams without buffering, uploads without a size cap (Open
# WebUI has its own), timeouts and keep-alive at least the ALB's idle timeout.
proxy_server() { # proxy_server LISTEN_PORT UPSTREAM_PORT
  cat <<EOF
server {
    listen $1 ssl;
    ssl_certificate $TLS_DIR/backend.crt;
    ssl_certificate_key $TLS_DIR/backend.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    keepalive_timeout ${PROXY_TIMEOUT}s;
    client_max_body_size 0;
    client_body_timeout ${PROXY_TIMEOUT}s;
    send_timeout ${PROXY_TIMEOUT}s;
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
  backend_certificate
  mkdir -p "$(dirname "$PROXY_CONF")"
  {
    # shellcheck disable=SC2016 # nginx variables, written literally
    printf '%s\n' 'map $http_upgrade $connection_upgrade {' '    default upgrade;' "    '' close;" '}'
    proxy_server "$WEBUI_TLS_PORT" 8080
    proxy_server "$OLLAMA_TLS_PORT" 11434
  } >"$PROXY_CONF"
  chmod 0644 "$PROXY_CONF"
  rm -f "$ROOT/etc/nginx/sites-enabled/default" # the package's plain-HTTP site on port 80
  nginx -t || die "nginx rejects $PROXY_CONF"
  systemctl enable nginx
  systemctl reload-or-restart nginx
  log "TLS proxy: Open WebUI on $WEBUI_TLS_PORT, Ollama on $OLLAMA_TLS_PORT"
}

start_open_webui() {
  start_local_open_webui
  start_tls_proxy
}

# The ALB's health check paths through the proxy (-k: self-signed, as the ALB accepts it).
health_gate() {
  health_gate_local
  curl -kfsS --max-time 5 -o /dev/null "https://127.0.0.1:$WEBUI_TLS_PORT/health" ||
    die "health gate: Open WebUI /health does not answer through the TLS proxy"
  curl -kfsS --max-time 10 -o /dev/null "https://127.0.0.1:$OLLAMA_TLS_PORT/api/tags" ||
    die "health gate: Ollama /api/tags does not answer through the TLS proxy"
  log "health gate: the TLS proxy forwards to Open WebUI and Ollama"
}
