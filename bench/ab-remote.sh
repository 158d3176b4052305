#!/usr/bin/env bash
# wrt's own CPU in a full run uploading every result to nginx, all in tmpfs
# (no disk noise), for binaries alternating round by round (issue 16):
#
#   N=10000 ROUNDS=2 bash bench/ab-remote.sh plain:BIN_A BIN_A BIN_B ...   (absolute paths)
#
# Each run gets a fresh copy of the generated DAG (bench/gen_dag.py) and an
# empty nginx store; "plain:BIN" runs BIN without a remote cache. Prints the
# wall time and wrt's own CPU (WRT_PHASE_TIMES=1) of every run. Binaries
# find their plugins beside them, as wrt does (build dirs, or a copy of the
# binary next to a `plugins` link). Workspace: /dev/shm/abr (wiped).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
N=${N:-10000}; ROUNDS=${ROUNDS:-3}
W=/dev/shm/abr; rm -rf $W; mkdir -p $W/{keys,nginx/logs,nginx/tmp}
python3 "$BENCH_DIR/gen_dag.py" $W/src --stages $N 2>/dev/null; rm -f $W/src/build.ninja
openssl genpkey -algorithm ed25519 -out $W/keys/ci.pem 2>/dev/null
openssl pkey -in $W/keys/ci.pem -pubout -out $W/keys/ci.pub
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
USER_LINE=""; [[ $(id -u) == 0 ]] && USER_LINE="user root;"
cat >$W/nginx/nginx.conf <<CONF
$USER_LINE
worker_processes 2;
error_log $W/nginx/logs/error.log;
pid $W/nginx/nginx.pid;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path $W/nginx/tmp; keepalive_requests 100000;
  server { listen 127.0.0.1:$PORT; root $W/nginx/store;
    location / { dav_methods PUT; create_full_put_path on; client_max_body_size 0; } } }
CONF
mkdir -p $W/nginx/store
nginx -p $W/nginx -c $W/nginx/nginx.conf -g 'daemon off;' & NG=$!
trap 'kill $NG; rm -rf $W' EXIT
sleep 0.5
cp -a $W/src $W/src-plain
python3 - $W/src/wrt.toml "remote_cache = \"http://127.0.0.1:$PORT/wrt\"
remote_cache_trusted_keys = [\"$W/keys/ci.pub\"]" <<'PY'
import sys
p, extra = sys.argv[1], sys.argv[2]
s = open(p).read()
open(p, "w").write(s.replace("[settings]\n", "[settings]\n" + extra + "\n", 1))
PY
export CI=true
for r in $(seq $ROUNDS); do
  for spec in "$@"; do
    b=${spec#plain:}; src=$W/src; [[ $spec == plain:* ]] && src=$W/src-plain
    rm -rf $W/run $W/nginx/store; mkdir -p $W/nginx/store; cp -a $src $W/run; sync; sleep 2
    t0=$(date +%s.%N)
    (cd $W/run && WRT_PHASE_TIMES=1 WRT_REMOTE_CACHE_KEY=$W/keys/ci.pem $b run -j2 > $W/log 2>&1)
    t1=$(date +%s.%N)
    cpu=$(grep -o 'cpu[^;]*' $W/log | tail -1)
    echo "$spec wall $(python3 -c "print(f'{$t1-$t0:.2f}')") $(grep "own cpu" $W/log)"
  done
done
