#!/bin/sh
# replica-hour.sh: run one region under open-loop load and sample, every
# minute, the size of its Litestream replica (per level), of its database and
# WAL, its resident memory and Go heap, and the entries it has committed.
#
#   docs/bench/replica-hour.sh KASSA_BINARY OUT_DIR PORT RATE DURATION [KASSA_KEY=value ...]
#
# e.g. docs/bench/replica-hour.sh ./kassa /tmp/run1 18471 50 1h \
#        KASSA_BACKUP_SNAPSHOT_INTERVAL=10m KASSA_BACKUP_RETENTION=20m
#
# OUT_DIR/samples.csv gets one line a minute; OUT_DIR/bench.txt the bench
# table; OUT_DIR/serve.log the region's log. The data directory is
# OUT_DIR/data and the replica OUT_DIR/data/backup (the default file replica).
set -eu
bin=$1 out=$2 port=$3 rate=$4 duration=$5
shift 5
mkdir -p "$out"
out=$(cd "$out" && pwd)
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
data=$out/data
url=http://127.0.0.1:$port

cd "$out" # no ./config.yaml here: the built-in defaults, plus the environment
env "$@" "$bin" serve --data-dir "$data" --listen 127.0.0.1:$port --public-url "$url" --log-level warn \
	>"$out/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
i=0
until curl -fs "$url/readyz" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 120 ] || { echo "region not ready" >&2; exit 1; }
	sleep 1
done

"$bin" bench --target "$url" --rate "$rate" --duration "$duration" --json "$out/bench.json" >"$out/bench.txt" 2>&1 &
bpid=$!

size() { [ -e "$1" ] && du -sb "$1" | cut -f1 || echo 0; }
metric() { curl -fs "$url/metrics" | awk -v m="$1" '$1 == m { printf "%.0f", $2 }'; }
echo "minute,entries,db_bytes,wal_bytes,local_ltx_bytes,replica_bytes,replica_l0,replica_l1,replica_l2,replica_l3,replica_snapshots,snapshot_files,rss_kb,heap_inuse_bytes" >"$out/samples.csv"
start=$(date +%s)
sample() {
	m=$(( ($(date +%s) - start + 30) / 60 ))
	r=$data/backup/ltx
	echo "$m,$(metric kassa_ledger_entries_committed_total),$(size "$data/kassa.db"),$(size "$data/kassa.db-wal"),$(size "$data/.kassa.db-litestream"),$(size "$data/backup"),$(size "$r/0"),$(size "$r/1"),$(size "$r/2"),$(size "$r/3"),$(size "$r/9"),$(ls "$r/9" 2>/dev/null | wc -l),$(awk '/^VmRSS/ { print $2 }' /proc/$pid/status),$(metric go_memstats_heap_inuse_bytes)" >>"$out/samples.csv"
}
sample
while kill -0 $bpid 2>/dev/null; do
	sleep 60
	sample
done
wait $bpid || echo "bench exited with $?" >&2
