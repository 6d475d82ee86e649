#!/usr/bin/env bash
# bench/profile.sh [run.mjs options]: runs the throughput workload against Strand alone under
# `node --cpu-prof`, then prints the top self-time functions of the samples taken during the
# measured runs (bench/lib/cpuprofile-top.mjs). Profiles and the report stay in
# bench/.work/profile-<time>/ (open the .cpuprofile in Chrome DevTools for the call tree).
#   bash bench/profile.sh                       # the issue's parameters (20 000 msgs × 3, SM on/off)
#   bash bench/profile.sh --messages 5000 --repeat 2
#   TOP=50 bash bench/profile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
dir="bench/.work/profile-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$dir"
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  timeout 600 npm run build --silent >&2 || echo "WARNING: npm run build failed; profiling the existing dist output" >&2
fi
BENCH_COMMAND="bash bench/profile.sh $*" timeout -k 30 --signal=INT 1000 \
  node bench/run.mjs --servers strand --workloads throughput \
  "--strand-node-args=--cpu-prof,--cpu-prof-dir=$PWD/$dir,--cpu-prof-interval=200" \
  --time-limit 900 "$@" > "$dir/report.md"
cp bench/.work/last-run.json "$dir/"
shopt -s nullglob
profiles=("$dir"/*.cpuprofile)
if ((${#profiles[@]} == 0)); then
  echo "no .cpuprofile written in $dir (did Strand exit through SIGTERM?)" >&2
  exit 1
fi
sed -n '/^| metric/,/^$/p' "$dir/report.md"
node bench/lib/cpuprofile-top.mjs --top "${TOP:-30}" --windows "$dir/last-run.json" "${profiles[@]}" | tee "$dir/top.txt"
echo "profiles: $dir" >&2
