#!/usr/bin/env bash
# `npm run bench [-- options]`: installs Prosody and ejabberd from Debian packages when missing,
# builds Strand, raises the open-file limit, then runs bench/run.mjs (same options, see README).
# Everything runs on loopback and is bounded in time; servers are stopped by PID at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- open files: the load client and Strand inherit this (ejabberd too, through setpriv) ------
if ! ulimit -n 65536 2>/dev/null; then
  hard=$(ulimit -Hn)
  ulimit -n "$hard" 2>/dev/null || true
  log "open-file limit: 65536 not allowed here (hard limit / fs.nr_open); using $(ulimit -n)"
fi

# --- peers from Debian packages ---------------------------------------------------------------
if [[ "${BENCH_SKIP_INSTALL:-0}" != 1 ]]; then
  missing=()
  for p in prosody ejabberd; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    if [[ $(id -u) != 0 ]]; then
      log "need root to install ${missing[*]} (apt-get install -y ${missing[*]}); or set BENCH_SKIP_INSTALL=1 and --servers strand"
      exit 1
    fi
    log "apt-cache policy ${missing[*]}:"
    apt-cache policy "${missing[@]}" >&2 || true
    if ! apt-cache policy "${missing[@]}" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
      log "no candidate yet: apt-get update"
      timeout 600 apt-get update >&2
    fi
    log "installing ${missing[*]} (Debian packages; their system services are not used by the bench)"
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y "${missing[@]}" >&2
  fi
  pv=$(dpkg-query -W -f='${Version}' prosody 2>/dev/null || true)
  ev=$(dpkg-query -W -f='${Version}' ejabberd 2>/dev/null || true)
  [[ $pv == 0.12.* ]] || log "WARNING: Prosody $pv installed; the comparison was designed for 0.12"
  [[ $ev == 23.01* ]] || log "WARNING: ejabberd $ev installed; the comparison was designed for 23.01"
fi

# --- Strand: build (incremental) --------------------------------------------------------------
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  if ! timeout 600 npm run build --silent >&2; then
    if [[ -f packages/server/dist/cli.js ]]; then
      log "WARNING: npm run build failed; benchmarking the existing packages/*/dist output"
    else
      log "npm run build failed and packages/server/dist/cli.js does not exist"
      exit 1
    fi
  fi
fi

# --- run, bounded: SIGINT at the time limit (run.mjs stops every server by PID), KILL 60 s later
limit=${BENCH_TIME_LIMIT:-5400}
export BENCH_COMMAND="npm run bench${*:+ -- $*}"
exec timeout -k 60 --signal=INT "$((limit + 120))" node bench/run.mjs --time-limit "$limit" "$@"
