#!/usr/bin/env bash
# The system packages `make test` needs, for `make test` and `.ci/run` alike.
#
# Checks each piece; when something is missing it installs it with apt-get if it can (root, or
# passwordless sudo, and apt-get present, and SHANHAI_NO_INSTALL is not set), otherwise it prints
# one line per missing piece saying how to get it and exits 1 within seconds, before any test runs.
# Nothing missing: silent, exit 0.
#
# Environment that changes what is needed:
#   DATABASE_URL    a running PostgreSQL: no server binaries or `postgres` user needed
#   PG_BINDIR       the folder of initdb/pg_ctl, when they are not in /usr/lib/postgresql/*/bin
#   OPENSEARCH_URL  a running OpenSearch node: no Java, Maven or curl needed
#   CACHE_URL       a running Redis: no redis-server needed
#   JAVA_HOME       a JDK outside PATH counts as Java
#   SHANHAI_NO_INSTALL=1  never install; only report
set -euo pipefail

missing_packages=()
missing_lines=()

# need PACKAGE "WHAT" "ALTERNATIVE": record a missing piece, its Debian package and other ways out.
need() {
  missing_packages+=("$1")
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo "
  missing_lines+=("missing: $2 - install with: ${sudo}apt-get install $1${3:+ ($3)}")
}

check() {
  missing_packages=()
  missing_lines=()
  command -v make >/dev/null 2>&1 || need make "make (runs the README's commands)"
  # Debian ships venv's ensurepip separately; without it `make` cannot create .venv.
  python3 -c "import ensurepip" >/dev/null 2>&1 || need python3-venv "Python 3.11 with venv (builds .venv)"
  if [ -z "${DATABASE_URL:-}" ]; then
    if ! { [ -n "${PG_BINDIR:-}" ] && [ -x "$PG_BINDIR/initdb" ]; } \
      && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
      && ! command -v initdb >/dev/null 2>&1; then
      need postgresql "PostgreSQL server binaries (initdb, pg_ctl) for the test database" \
        "or set PG_BINDIR to their folder, or DATABASE_URL to a running server"
    fi
    # PostgreSQL refuses to run as root: as root the test server runs as the `postgres` user.
    if [ "$(id -u)" -eq 0 ]; then
      command -v runuser >/dev/null 2>&1 || need util-linux "runuser (starts the test database as postgres)"
    fi
  fi
  if [ -z "${OPENSEARCH_URL:-}" ]; then
    local alt="or set OPENSEARCH_URL to a running OpenSearch 2 node"
    if ! command -v java >/dev/null 2>&1 && [ -z "${JAVA_HOME:-}" ]; then
      need default-jdk-headless "Java 17+ for the OpenSearch test node" "$alt"
    fi
    command -v mvn >/dev/null 2>&1 || need maven "Maven, which fetches the OpenSearch test node's jars" "$alt"
    command -v curl >/dev/null 2>&1 || need curl "curl, which waits for the OpenSearch test node" "$alt"
  fi
  if [ -z "${CACHE_URL:-}" ]; then
    command -v redis-server >/dev/null 2>&1 \
      || need redis-server "redis-server for the shared response cache's tests" \
        "or set CACHE_URL to a running Redis"
  fi
  command -v chromium >/dev/null 2>&1 || need chromium "Chromium for the dashboard's browser test"
  # Debian puts nginx in /usr/sbin, which is not on an ordinary user's PATH.
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] \
    || need nginx "nginx for the test of the deployment's site file (deploy/nginx-shanhai.conf)"
  command -v systemd-analyze >/dev/null 2>&1 \
    || need systemd "systemd-analyze for the test of the deployment's units (deploy/*.service)"
  fc-list :lang=zh 2>/dev/null | grep -q . \
    || need fonts-wqy-microhei "a CJK font, so the dashboard's screenshot shows Chinese"
}

# The `postgres` system user comes with Debian's postgresql package; a server installed otherwise
# may lack it, and the test server needs it when the suite runs as root.
needs_postgres_user() {
  [ -z "${DATABASE_URL:-}" ] && [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1
}

installer() {
  [ -n "${SHANHAI_NO_INSTALL:-}" ] && [ "${SHANHAI_NO_INSTALL}" != 0 ] && return 1
  command -v apt-get >/dev/null 2>&1 || return 1
  if [ "$(id -u)" -eq 0 ]; then
    echo ""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "sudo -n"
  else
    return 1
  fi
}

check
if [ ${#missing_packages[@]} -eq 0 ] && ! needs_postgres_user; then
  exit 0
fi

if as=$(installer); then
  if [ ${#missing_packages[@]} -gt 0 ]; then
    log=$(mktemp /tmp/shanhai-apt-XXXXXX.log)
    echo "ensure-system-deps: installing ${missing_packages[*]} (apt-get output in $log)" >&2
    if ! { $as env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && $as env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_packages[@]}"; \
    } >"$log" 2>&1; then
      tail -n 20 "$log" >&2
    fi
  fi
  if needs_postgres_user; then
    $as useradd --system --home-dir /var/lib/postgresql --shell /bin/false postgres
  fi
  check
  if [ ${#missing_packages[@]} -eq 0 ]; then
    exit 0
  fi
  echo "ensure-system-deps: still missing after apt-get install:" >&2
fi

for line in "${missing_lines[@]}"; do
  echo "$line" >&2
done
if needs_postgres_user; then
  echo "missing: the postgres system user (the test database runs as it when tests run as root)" \
    "- create it with: useradd --system --home-dir /var/lib/postgresql postgres" >&2
fi
if [ -n "${SHANHAI_NO_INSTALL:-}" ] && [ "${SHANHAI_NO_INSTALL}" != 0 ]; then
  echo "(SHANHAI_NO_INSTALL is set, so nothing was installed)" >&2
elif ! command -v apt-get >/dev/null 2>&1; then
  echo "(no apt-get here: install the same pieces with this system's package manager)" >&2
elif [ "$(id -u)" -ne 0 ]; then
  echo "(not root and no passwordless sudo: run \`make test\` as root to install them, or install them as above)" >&2
fi
exit 1
