#!/bin/bash
# Bootstrap of an Ollama + Open WebUI instance of environment @@ENV@@, rendered by
# ollama_infra.userdata. It carries names only, never secrets: the boot script reads the
# secrets from Secrets Manager through the instance role at boot.
#  1. writes the boot settings to /etc/ollama/boot.env;
#  2. unpacks ollama-install.sh and ollama-boot.sh into /usr/local/sbin, and the journald
#     log forwarders (systemd units) and their logrotate rules the CloudWatch agent relies
#     on (a gzip'd tar in base64 keeps the user data under the 16 KB limit; the sources are
#     ollama_infra/userdata/*.sh and ollama_infra/cwagent.py);
#  3. runs ollama-boot.sh, whose exit status is this script's.
# Logs for the CloudWatch agent config: /var/log/ollama-bootstrap.log (this boot), the journal
# of Ollama's systemd unit (per install method), and journald tag "open-webui" (Open WebUI).
set -euo pipefail
ROOT="${OLLAMA_BOOTSTRAP_ROOT:-}"
install -d -m 0755 "$ROOT/etc/ollama"
cat >"$ROOT/etc/ollama/boot.env" <<'BOOT_ENV'
@@BOOT_ENV@@
BOOT_ENV
base64 -d <<'SCRIPTS' | tar -xz --no-same-owner -C "$ROOT/"
@@SCRIPTS@@
SCRIPTS
exec "$ROOT/usr/local/sbin/ollama-boot.sh"
