#!/bin/bash
# Bootstrap of an Ollama + Open WebUI instance of environment @@ENV@@, rendered by
# ollama_infra.userdata. It carries names only, never secrets: the boot script reads the
# secrets from Secrets Manager through the instance role at boot.
#  1. writes the boot settings to /etc/ollama/boot.env;
#  2. writes ollama-install.sh and ollama-boot.sh into /usr/local/sbin, the journald log
#     forwarders (systemd units) and their logrotate rules the CloudWatch agent relies on, and
#     the secret follower's units (the sources are ollama_infra/userdata/*.sh,
#     ollama_infra/userdata/__init__.py and ollama_infra/cwagent.py; EC2 stores this script
#     gzip-compressed, which cloud-init unpacks, to stay under the 16 KB user-data limit);
#  3. runs ollama-boot.sh, whose exit status is this script's.
# Logs for the CloudWatch agent config: /var/log/ollama-bootstrap.log (this boot), the journal
# of Ollama's systemd unit (per install method), and journald tag "open-webui" (Open WebUI).
set -euo pipefail
ROOT="${OLLAMA_BOOTSTRAP_ROOT:-}"
install -d -m 0755 "$ROOT/etc/ollama"
cat >"$ROOT/etc/ollama/boot.env" <<'BOOT_ENV'
@@BOOT_ENV@@
BOOT_ENV
@@FILES@@
exec "$ROOT/usr/local/sbin/ollama-boot.sh"
