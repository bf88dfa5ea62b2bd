#!/usr/bin/env bash
# The real-application test tier (`make e2e-local`): the pinned Open WebUI from PyPI, run as two
# servers against PostgreSQL with pgvector, a password-protected Redis, moto as S3 and the fake
# Ollama (test doubles from tests/), with the environment rendered by the boot script's own
# functions. Not part of `make test`: it installs a few gigabytes and runs for minutes.
#
#   scripts/e2e-local.sh install   install what the tier needs (idempotent; reuses installs)
#   scripts/e2e-local.sh run       run the tier's tests (installs first when needed)
#   scripts/e2e-local.sh clean     remove the tier's folder (.e2e)
#
# Root is needed only for apt-get, when a Debian package is missing. Processes the tests start
# record their pid under .e2e/run/pids; whatever is left there when the run ends is stopped.
set -euo pipefail

cd "$(dirname "$0")/.."
E2E_DIR=${E2E_LOCAL_DIR:-$PWD/.e2e}
PYTHON=${PYTHON:-python3}
REPO_PY=${REPO_PY:-.venv/bin/python}
PG_MAJOR=15
# pgvector has no package for PostgreSQL 15 in Debian 12; its Debian source package (from the
# suite below) is built against the PostgreSQL we run instead.
PGVECTOR_SUITE=${PGVECTOR_SUITE:-trixie}
APT_PACKAGES=("postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" redis-server gcc make)

log() { printf 'e2e-local: %s\n' "$*"; }
die() {
  printf 'e2e-local: ERROR: %s\n' "$*" >&2
  exit 1
}

webui_version() {
  "$REPO_PY" -c 'from ollama_infra.versions import OPEN_WEBUI_VERSION as v; print(v.removeprefix("v"))'
}

install_apt() {
  local pkg missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  ((EUID == 0)) || die "missing Debian packages: ${missing[*]}; run: sudo apt-get install ${missing[*]}"
  log "apt-get install ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

install_webui() {
  local version stamp
  version=$(webui_version)
  stamp="$E2E_DIR/venv/.open-webui-$version"
  [[ -e $stamp ]] && return 0
  log "installing open-webui[postgres]==$version into $E2E_DIR/venv (several minutes)"
  [[ -x $E2E_DIR/venv/bin/python ]] || "$PYTHON" -m venv "$E2E_DIR/venv"
  "$E2E_DIR/venv/bin/pip" install --progress-bar off --disable-pip-version-check \
    "open-webui[postgres]==$version"
  # The extra must exist at this version, or pip only warns and PostgreSQL support is missing.
  "$E2E_DIR/venv/bin/python" -c 'import psycopg2, pgvector' ||
    die "open-webui $version did not bring its [postgres] extra (psycopg2, pgvector)"
  touch "$stamp"
}

install_awscli() {
  # The boot script calls the AWS CLI; here it talks to moto through AWS_ENDPOINT_URL.
  [[ -x $E2E_DIR/aws/bin/aws ]] && return 0
  log "installing the AWS CLI into $E2E_DIR/aws"
  "$PYTHON" -m venv "$E2E_DIR/aws"
  "$E2E_DIR/aws/bin/pip" install --progress-bar off --disable-pip-version-check awscli
}

debian_mirror() { # the Debian archive this machine's apt already uses
  local uri
  uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '$1 == "URIs:" && $2 !~ /security/ && $2 ~ /debian/ {print $2; exit}')
  [[ -n $uri ]] || uri=$(awk '$1 == "deb" && $2 !~ /security/ && $2 ~ /debian/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  [[ -n $uri ]] || die "no Debian archive in the apt sources; set one up to fetch pgvector's source"
  printf '%s\n' "$uri"
}

pgvector_source() { # the Debian source package of pgvector, unpacked; prints its folder
  local apt="$E2E_DIR/src/apt" opts
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
  printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
    "$(debian_mirror)" "$PGVECTOR_SUITE" >"$apt/sources.list"
  opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache")
  (
    cd "$E2E_DIR/src"
    apt-get -q "${opts[@]}" update >&2
    apt-get -q "${opts[@]}" source --download-only pgvector >&2
  )
  local orig
  orig=$(find "$E2E_DIR/src" -maxdepth 1 -name 'pgvector_*.orig.tar.*' | sort -V | tail -n 1)
  [[ -n $orig ]] || die "apt-get source pgvector brought no upstream tarball"
  rm -rf "$E2E_DIR/src/pgvector"
  mkdir -p "$E2E_DIR/src/pgvector"
  tar -xf "$orig" -C "$E2E_DIR/src/pgvector" --strip-components=1
  printf '%s\n' "$E2E_DIR/src/pgvector"
}

install_rotation_driver() {
  # The database rotation's PostgreSQL driver, pinned as the function ships it (make
  # rotation-vendor); the tier runs the rotation's steps against its PostgreSQL.
  local req=ollama_infra/rotation/requirements.txt stamp
  stamp="$E2E_DIR/rotation-vendor/.$(sha256sum "$req" | cut -c1-16)"
  [[ -e $stamp ]] && return 0
  log "installing the rotation's PostgreSQL driver into $E2E_DIR/rotation-vendor"
  rm -rf "$E2E_DIR/rotation-vendor"
  "$REPO_PY" -m pip install --progress-bar off --disable-pip-version-check --only-binary=:all: \
    --no-deps --target "$E2E_DIR/rotation-vendor" -r "$req"
  touch "$stamp"
}

install_postgres() {
  # A private copy of Debian's PostgreSQL (it finds its share and lib folders relative to its
  # binaries), so pgvector installs into it without root.
  local root="$E2E_DIR/pgroot" src
  [[ -e $root/usr/share/postgresql/$PG_MAJOR/extension/vector.control ]] && return 0
  log "building pgvector for PostgreSQL $PG_MAJOR into $root"
  rm -rf "$root"
  mkdir -p "$root/usr/lib/postgresql" "$root/usr/share/postgresql" "$E2E_DIR/src"
  cp -a "/usr/lib/postgresql/$PG_MAJOR" "$root/usr/lib/postgresql/"
  cp -a "/usr/share/postgresql/$PG_MAJOR" "$root/usr/share/postgresql/"
  src=$(pgvector_source)
  # with_llvm=no: no clang needed for the optional JIT bitcode.
  make -C "$src" -s with_llvm=no PG_CONFIG="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
  make -C "$src" -s with_llvm=no PG_CONFIG="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config" \
    DESTDIR="$root" install
  [[ -e $root/usr/share/postgresql/$PG_MAJOR/extension/vector.control ]] ||
    die "pgvector did not install into $root"
}

install_all() {
  [[ -x $REPO_PY ]] || die "$REPO_PY is missing; run: make install-dev"
  local start=$SECONDS
  mkdir -p "$E2E_DIR"
  install_apt
  install_webui
  install_awscli
  install_rotation_driver
  install_postgres
  log "installed in $((SECONDS - start)) s"
}

stop_leftovers() {
  local pidfile pid
  for pidfile in "$E2E_DIR"/run/pids/*.pid; do
    [[ -e $pidfile ]] || continue
    pid=$(<"$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      log "stopping leftover process $pid ($(basename "$pidfile" .pid))"
      kill "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
}

run_tests() {
  install_all
  local start=$SECONDS rc=0
  trap stop_leftovers EXIT
  stop_leftovers
  E2E_LOCAL=1 E2E_LOCAL_DIR="$E2E_DIR" "$REPO_PY" -m pytest -p no:cacheprovider \
    -m e2e_local tests/e2e_local -v -rA "$@" || rc=$?
  log "tests ran in $((SECONDS - start)) s; findings in $E2E_DIR/findings.md"
  return "$rc"
}

case ${1:-run} in
  install) install_all ;;
  run)
    shift || true
    run_tests "$@"
    ;;
  clean) rm -rf "$E2E_DIR" ;;
  *) die "unknown command '$1'; use install, run or clean" ;;
esac
