# Sourced by bench/ab-remote.sh and bench/ab-restore.sh (set BENCH_DIR, W
# and N first). In $W, wiped: the generated DAG of $N stages in
# $W/src-plain and, with remote cache settings for a real nginx (WebDAV PUT)
# started here on loopback, in $W/src; an Ed25519 key pair in $W/keys
# (ci.pem signs, ci.pub is trusted). Sets PORT and NG (nginx's pid) and
# CI=true; on exit nginx stops and $W goes.
rm -rf $W; mkdir -p $W/{keys,nginx/logs,nginx/tmp,nginx/store}
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
nginx -p $W/nginx -c $W/nginx/nginx.conf -g 'daemon off;' & NG=$!
trap 'kill $NG; rm -rf $W' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
cp -a $W/src $W/src-plain
python3 - $W/src/wrt.toml "remote_cache = \"http://127.0.0.1:$PORT/wrt\"
remote_cache_trusted_keys = [\"$W/keys/ci.pub\"]" <<'PY'
import sys
p, extra = sys.argv[1], sys.argv[2]
s = open(p).read()
open(p, "w").write(s.replace("[settings]\n", "[settings]\n" + extra + "\n", 1))
PY
export CI=true
