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
W=/dev/shm/abr
source "$BENCH_DIR/ab-common.sh"
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
