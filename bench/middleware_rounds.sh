#!/usr/bin/env bash
# middleware_rounds.sh — BenchmarkMiddleware (bench/middleware_test.go) in interleaved
# rounds: the test binary is built once, each round runs every variant back to back
# (bare, hit, hit-route, miss; serial, then parallel), and the medians are taken over the
# rounds: of each variant's ns/op, B/op and allocs/op, and of the per-round ratio of its
# ns/op to bare's in the same round and mode (the issue's goal for a hit: ≤ 1.2).
#
# Usage: bench/middleware_rounds.sh                     (15 rounds × 300ms)
#        ROUNDS=5 BENCHTIME=200ms bench/middleware_rounds.sh
#        OUT=mw.txt bench/middleware_rounds.sh           (keep the raw output, for benchstat:
#        go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da mw.txt)
set -euo pipefail

ROUNDS=${ROUNDS:-15}
BENCHTIME=${BENCHTIME:-300ms}
OUT=${OUT:-}

cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go test -c -o "$work/bench.test" .
echo "$(go version), $(nproc) CPUs, $ROUNDS rounds × $BENCHTIME"
for r in $(seq "$ROUNDS"); do
	"$work/bench.test" -test.run '^$' -test.bench '^BenchmarkMiddleware$' -test.benchtime "$BENCHTIME" |
		tee -a "$work/raw.txt" |
		awk -v r="$r" '/^BenchmarkMiddleware\// {
			name = $1; sub(/^BenchmarkMiddleware\//, "", name); sub(/-[0-9]+$/, "", name)
			print r, name, $3, $5, $7
		}' >>"$work/rounds"
done
[ -n "$OUT" ] && cp "$work/raw.txt" "$OUT"

# rounds: round variant/mode ns B allocs
awk '
	{ ns[$1, $2] = $3; b[$2] = b[$2] " " $4; a[$2] = a[$2] " " $5; t[$2] = t[$2] " " $3; names[$2] = 1; rounds[$1] = 1 }
	function median(s,    v, n, i, j, x) {
		n = split(s, v, " ")
		for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] + 0 > x + 0; j--) v[j + 1] = v[j]; v[j + 1] = x }
		return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	}
	END {
		printf "%-20s %12s %10s %10s %14s\n", "variant", "ns/op", "B/op", "allocs/op", "ratio to bare"
		split("bare hit hit-route miss", order, " ")
		split("serial parallel", modes, " ")
		for (m = 1; m <= 2; m++) for (o = 1; o <= 4; o++) {
			name = order[o] "/" modes[m]
			if (!(name in names)) continue
			base = "bare/" modes[m]
			ratios = ""
			for (r in rounds) if (ns[r, base] > 0) ratios = ratios " " ns[r, name] / ns[r, base]
			printf "%-20s %12.0f %10.0f %10.0f %13.2fx\n", name, median(t[name]), median(b[name]), median(a[name]), median(ratios)
		}
	}' "$work/rounds"
