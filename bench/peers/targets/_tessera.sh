# shellcheck shell=bash
# Tessera (the project) under the same protocol as the peers, started with its own `tessera serve`.
# Set before sourcing: T_PORT, TESSERA_WORKERS, TESSERA_DB (sqlite | pg).
# OUR_SRC: the project checkout (default: the repository this harness lives in, two levels up).
#   OUR_VENV: where it is installed.
T_BASE="http://127.0.0.1:$T_PORT"
T_READY_PATH=/.well-known/oauth-authorization-server
T_SCENARIOS="S1 S2 S4"
T_DESC="Tessera, tessera serve --workers $TESSERA_WORKERS, $TESSERA_DB"
if [ -z "${OUR_SRC:-}" ] && [ -f "$PEERS_DIR/../../pyproject.toml" ]; then
  OUR_SRC=$(cd "$PEERS_DIR/../.." && pwd)
fi
: "${OUR_VENV:=$PEERS_HOME/venv-tessera}"

_tessera_env() {
  local url
  if [ "$TESSERA_DB" = pg ]; then url="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/tessera_bench"
  else url="sqlite:///$PEERS_HOME/state/$T_NAME.sqlite3"; fi
  TESSERA_ENVV=(env TESSERA_DATABASE_URL="$url" TESSERA_ISSUER="$T_BASE" TESSERA_SECRET_KEY=bench-only-secret
    TESSERA_ENV=development)
}

t_prepare() {
  [ -n "${OUR_SRC:-}" ] || { log "  OUR_SRC not found: set it to the Tessera checkout"; return 1; }
  [ -x "$OUR_VENV/bin/python" ] || python3 -m venv "$OUR_VENV" || return 1
  "$OUR_VENV/bin/pip" install -q -e "$OUR_SRC" >>"$OUT/logs/$T_NAME.prepare.log" 2>&1 || return 1
  mkdir -p "$PEERS_HOME/state"; rm -f "$PEERS_HOME/state/$T_NAME.sqlite3"*
  if [ "$TESSERA_DB" = pg ]; then
    pg_start || return 1; T_DB_PID=$PG_PID
    { pg_sql "DROP DATABASE IF EXISTS tessera_bench" && pg_sql "CREATE DATABASE tessera_bench"; } \
      >>"$OUT/logs/$T_NAME.prepare.log" 2>&1 || return 1
  fi
  _tessera_env
  "${TESSERA_ENVV[@]}" "$OUR_VENV/bin/tessera" db upgrade >>"$OUT/logs/$T_NAME.prepare.log" 2>&1 || return 1
  local js
  js=$("${TESSERA_ENVV[@]}" "$OUR_VENV/bin/tessera" clients create --name bench --grant-type client_credentials \
        --scope api --introspect --json 2>>"$OUT/logs/$T_NAME.prepare.log") || return 1
  T_CLIENT_ID=$(pyj 'import json,sys; print(json.loads(sys.argv[1])["client_id"])' "$js") || return 1
  T_CLIENT_SECRET=$(pyj 'import json,sys; print(json.loads(sys.argv[1])["client_secret"])' "$js") || return 1
}

t_start() {
  _tessera_env
  start_bg "$OUT/logs/$T_NAME.server.log" "${TESSERA_ENVV[@]}" "$OUR_VENV/bin/tessera" serve \
    --host 127.0.0.1 --port "$T_PORT" --workers "$TESSERA_WORKERS"
  T_PID=$BG_PID
  # endpoint paths come from the server's own metadata (RFC 8414)
  local i meta=""
  for i in $(seq 1 300); do
    meta=$(curl -s "$T_BASE$T_READY_PATH" 2>/dev/null) && [ -n "$meta" ] && break
    proc_alive "$T_PID" || return 0
    sleep 0.1
  done
  T_TOKEN_PATH=$(pyj 'import json,sys,urllib.parse as u; print(u.urlsplit(json.loads(sys.argv[1])["token_endpoint"]).path)' "$meta")
  T_INTROSPECT_PATH=$(pyj 'import json,sys,urllib.parse as u; print(u.urlsplit(json.loads(sys.argv[1])["introspection_endpoint"]).path)' "$meta")
}

t_cleanup() { if [ "$TESSERA_DB" = pg ]; then pg_stop || true; fi; }
