#!/usr/bin/env bash
# wrk_middleware.sh — requests/s over loopback of the middleware benchmarks' page (1 KB,
# bench/internal/httpbench), from the bare chi router and from the router behind
# middleware.Cache (every request a hit), in interleaved rounds.
#
# It builds cmd/httpbench once, starts it (both servers in one process, on 127.0.0.1),
# runs one unrecorded warm-up per server, then ROUNDS rounds of
# `wrk -t$THREADS -c$CONNS -d$DURATION --latency` against each server, bare first in odd
# rounds and cached first in even ones. It prints each round and the medians of bare's
# and cached's requests/s, server CPU time per request and latency, and of the per-round
# ratios cached/bare (the issue's goal: requests/s ≥ 0.95×).
#
# The two servers are never loaded at the same time: with both saturated at once, the
# scheduler serves their connections in turn, so their requests/s come out nearly equal
# whatever each request costs, and the ratio says nothing.
#
# Usage: bench/wrk_middleware.sh            (5 rounds × 10s per server, -t2 -c32)
#        ROUNDS=9 DURATION=5s bench/wrk_middleware.sh
#        PROFILE=/tmp/cached.cpu ONLY=cached bench/wrk_middleware.sh   (CPU profile of the
#        server process while wrk loads only the cached server)
#
# Needs wrk (apt-get install -y wrk). Not run by `go test`: the bench module's tests never
# need it. wrk and the server share the machine's CPUs, as on the 2 vCPU VM of
# docs/benchmarks.md.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
ONLY=${ONLY:-}
PROFILE=${PROFILE:-}

command -v wrk >/dev/null || { echo "wrk_middleware.sh: wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }
cd "$(dirname "$0")"
work=$(mktemp -d)
server=
cleanup() {
	if [ -n "$server" ]; then
		kill -TERM "$server" 2>/dev/null || true
		wait "$server" 2>/dev/null || true
		cat "$work/server.log" >&2
	fi
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/httpbench" ./cmd/httpbench
args=()
[ -n "$PROFILE" ] && args=(-cpuprofile "$PROFILE")
: >"$work/urls"
"$work/httpbench" "${args[@]}" >"$work/urls" 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do
	[ "$(wc -l <"$work/urls")" -ge 2 ] && break
	kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
	sleep 0.1
done
bare=$(awk '$1 == "bare" { print $2 }' "$work/urls")
cached=$(awk '$1 == "cached" { print $2 }' "$work/urls")
[ -n "$bare" ] && [ -n "$cached" ] || { echo "wrk_middleware.sh: the server printed no URLs" >&2; exit 1; }

# load NAME URL DURATION prints "requests/s p50-µs p99-µs server-CPU-µs-per-request" of
# one wrk run, and fails on socket errors or non-2xx answers. The server's CPU time is
# the process's user+system time over the run (the other server is idle), per request.
load() {
	local out t0 t1
	t0=$(cpu_ticks)
	out=$(wrk -t"$THREADS" -c"$CONNS" -d"$3" --latency "$2")
	t1=$(cpu_ticks)
	if grep -q -e 'Socket errors' -e 'Non-2xx' <<<"$out"; then
		echo "wrk_middleware.sh: $1: errors under load:" >&2
		echo "$out" >&2
		exit 1
	fi
	awk -v ticks=$((t1 - t0)) -v hz="$HZ" '
		function us(v) {
			if (v ~ /us$/) return v + 0
			if (v ~ /ms$/) return v * 1000
			if (v ~ /s$/) return v * 1000000
			return v
		}
		$1 == "50%" { p50 = us($2) }
		$1 == "99%" { p99 = us($2) }
		$2 == "requests" && $3 == "in" { n = $1 }
		$1 == "Requests/sec:" { rps = $2 }
		END { printf "%.0f %.0f %.0f %.2f\n", rps, p50, p99, ticks * 1000000 / hz / n }' <<<"$out"
}

# cpu_ticks is the server's user+system CPU time so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$server/stat"; }
HZ=$(getconf CLK_TCK)

median() {
	sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

echo "$(go version), $(nproc) CPUs, wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds"
echo "bare   $bare"
echo "cached $cached"

if [ -n "$ONLY" ]; then
	url=$bare
	[ "$ONLY" = cached ] && url=$cached
	for r in $(seq "$ROUNDS"); do
		echo "round $r $ONLY $(load "$ONLY" "$url" "$DURATION")"
	done
	exit 0
fi

load bare "$bare" "$WARMUP" >/dev/null
load cached "$cached" "$WARMUP" >/dev/null
printf '%-6s %11s %12s %6s %9s %10s %6s %9s %10s %9s %10s %6s\n' round bare-req/s cached-req/s ratio bare-cpu cached-cpu ratio bare-p50 cached-p50 bare-p99 cached-p99 load1
: >"$work/rounds"
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then
		b=$(load bare "$bare" "$DURATION")
		c=$(load cached "$cached" "$DURATION")
	else
		c=$(load cached "$cached" "$DURATION")
		b=$(load bare "$bare" "$DURATION")
	fi
	read -r brps bp50 bp99 bcpu <<<"$b"
	read -r crps cp50 cp99 ccpu <<<"$c"
	ratio=$(awk -v c="$crps" -v b="$brps" 'BEGIN { printf "%.3f", c / b }')
	cratio=$(awk -v c="$ccpu" -v b="$bcpu" 'BEGIN { printf "%.3f", c / b }')
	echo "$brps $crps $ratio $bcpu $ccpu $cratio $bp50 $cp50 $bp99 $cp99" >>"$work/rounds"
	printf '%-6s %11s %12s %6s %9s %10s %6s %9s %10s %9s %10s %6s\n' "$r" "$brps" "$crps" "$ratio" "${bcpu}µs" "${ccpu}µs" "$cratio" \
		"${bp50}µs" "${cp50}µs" "${bp99}µs" "${cp99}µs" "$(cut -d' ' -f1 /proc/loadavg)"
done
m() { awk -v i="$1" '{ print $i }' "$work/rounds" | median; }
printf '%-6s %11s %12s %6s %9s %10s %6s %9s %10s %9s %10s\n' median "$(m 1)" "$(m 2)" "$(m 3)" "$(m 4)µs" "$(m 5)µs" "$(m 6)" \
	"$(m 7)µs" "$(m 8)µs" "$(m 9)µs" "$(m 10)µs"
