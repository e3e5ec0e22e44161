#!/usr/bin/env bash
# Two `fathom run --store s3://...` nodes on one bucket prefix behind nginx, configured by
# docs/deploy/nginx.conf itself (only its ports replaced):
#   1. writes to one collection sent directly to both nodes are all visible from both;
#   2. the Chroma JS client's own test suite passes through nginx;
#   3. one node SIGKILLed under write load loses nothing it acknowledged (read through
#      the other node).
#
#   usage: tests/deploy/nginx_two_nodes.sh PATH/TO/fathom
#
# Needs the RGW test server's environment (scripts/with-s3.sh: FATHOM_S3_BUCKET, AWS_*,
# FATHOM_S3_ENDPOINT); without it exits 77 (skipped), or 1 when FATHOM_REQUIRE_S3=1.
# Processes are stopped by PID. Exit status: 0 = all passed.
set -euo pipefail

die() { echo "nginx_two_nodes.sh: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: $0 PATH/TO/fathom"
FATHOM=$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
SOURCE_DIR=${FATHOM_SOURCE_DIR:-$(cd "$SCRIPT_DIR/../.." && pwd -P)}
SHARED_DIR=${FATHOM_SHARED_DIR:-$SOURCE_DIR/../shared}

if [ -z "${FATHOM_S3_BUCKET:-}" ] || [ -z "${FATHOM_S3_ENDPOINT:-}" ]; then
  [ "${FATHOM_REQUIRE_S3:-}" = 1 ] && die "FATHOM_S3_BUCKET / FATHOM_S3_ENDPOINT not set (scripts/with-s3.sh)"
  echo "nginx_two_nodes.sh: skipped: needs the RGW test server (scripts/with-s3.sh)" >&2
  exit 77
fi
command -v nginx >/dev/null || die "nginx not found (scripts/install-deps.sh installs nginx-core)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fathom-deploy.XXXXXX")
STORE="s3://$FATHOM_S3_BUCKET/test/deploy-$(basename "$WORK")"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();});'
}
up() { curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$1/api/v2/heartbeat"; }
wait_up() {
  for _ in $(seq 1 300); do up "$1" && return 0; sleep 0.1; done
  return 1
}

# Starts node $1 (1 or 2) on port $2; sets NODE_PID.
start_node() {
  "$FATHOM" run --store "$STORE" --host 127.0.0.1 --port "$2" --allow-reset >>"$WORK/node$1.log" 2>&1 &
  NODE_PID=$!
  PIDS+=("$NODE_PID")
  wait_up "$2" || { cat "$WORK/node$1.log" >&2; die "node $1 did not start"; }
}

P1=$(free_port); P2=$(free_port); PN=$(free_port)
start_node 1 "$P1"; NODE1=$NODE_PID
start_node 2 "$P2"; NODE2=$NODE_PID

# nginx on docs/deploy/nginx.conf, ports replaced.
mkdir -p "$WORK/nginx/tmp"
# nginx's workers run as another user than a root master: let them reach their temp dir.
chmod 0711 "$WORK" "$WORK/nginx"
chmod 0777 "$WORK/nginx/tmp"
sed -e "s/127\.0\.0\.1:8000/127.0.0.1:$PN/; s/127\.0\.0\.1:8001/127.0.0.1:$P1/; s/127\.0\.0\.1:8002/127.0.0.1:$P2/" \
  "$SOURCE_DIR/docs/deploy/nginx.conf" >"$WORK/nginx/nginx.conf"
grep -q "127.0.0.1:$P1" "$WORK/nginx/nginx.conf" || die "docs/deploy/nginx.conf: upstream ports not found"
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' >"$WORK/nginx.log" 2>&1 &
PIDS+=("$!")
wait_up "$PN" || { cat "$WORK/nginx.log" >&2; die "nginx did not start"; }
echo "nginx_two_nodes.sh: nodes at :$P1 and :$P2, nginx at :$PN, store $STORE" >&2

API=/api/v2/tenants/default_tenant/databases/default_database
post() { curl -sS --max-time 60 -H 'content-type: application/json' -X POST "http://127.0.0.1:$1$2" -d "$3"; }
count() { curl -sS --max-time 60 "http://127.0.0.1:$1$API/collections/$2/count"; }

# 1. Writes through both nodes to one collection, all visible from both.
ID=$(post "$PN" "$API/collections" '{"name":"both"}' | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).id))')
[ -n "$ID" ] || die "could not create a collection through nginx"
for i in $(seq 1 20); do
  port=$P1; [ $((i % 2)) -eq 0 ] && port=$P2
  code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 60 -H 'content-type: application/json' \
    -X POST "http://127.0.0.1:$port$API/collections/$ID/add" -d "{\"ids\":[\"r$i\"],\"embeddings\":[[$i,1]]}")
  [ "$code" = 201 ] || die "add r$i through :$port answered $code"
done
for port in "$P1" "$P2" "$PN"; do
  n=$(count "$port" "$ID")
  [ "$n" = 20 ] || die "count through :$port is $n, expected 20"
done
echo "nginx_two_nodes.sh: 1. 20 writes alternating between the nodes, 20 visible from each" >&2

# 2. The Chroma JS suite through nginx.
"$SHARED_DIR/conformance/chroma-js/run.sh" "http://127.0.0.1:$PN" || die "the Chroma JS suite failed through nginx"
echo "nginx_two_nodes.sh: 2. the Chroma JS suite passed through nginx" >&2

# 3. Node 2 SIGKILLed under write load: everything it acknowledged is readable via node 1.
ID=$(post "$PN" "$API/collections" '{"name":"killed"}' | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).id))')
[ -n "$ID" ] || die "could not create the second collection"
: >"$WORK/acked"
(
  for i in $(seq 1 100000); do
    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -H 'content-type: application/json' \
      -X POST "http://127.0.0.1:$P2$API/collections/$ID/add" \
      -d "{\"ids\":[\"k$i\"],\"embeddings\":[[$i,2]],\"documents\":[\"doc $i\"]}" 2>/dev/null) || break
    [ "$code" = 201 ] || break
    echo "k$i" >>"$WORK/acked"
  done
) &
WRITER=$!
sleep 3
kill -KILL "$NODE2"
wait "$WRITER" || true
ACKED=$(wc -l <"$WORK/acked")
[ "$ACKED" -gt 0 ] || die "node 2 acknowledged no write before it was killed"
IDS=$(node -e 'const ids=require("fs").readFileSync(process.argv[1],"utf8").split("\n").filter(Boolean);console.log(JSON.stringify({ids,include:[]}))' "$WORK/acked")
FOUND=$(post "$P1" "$API/collections/$ID/get" "$IDS" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).ids.length))')
[ "$FOUND" = "$ACKED" ] || die "node 2 acknowledged $ACKED writes before SIGKILL; node 1 finds $FOUND of them"
echo "nginx_two_nodes.sh: 3. node 2 acknowledged $ACKED writes before SIGKILL; node 1 reads all $FOUND" >&2

# Node 1 still serves through nginx with node 2 gone (its requests move along the ring).
n=$(count "$PN" "$ID")
[ "$n" -ge "$ACKED" ] || die "count through nginx with node 2 down is $n, below $ACKED"
echo "nginx_two_nodes.sh: all passed" >&2
