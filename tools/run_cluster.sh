#!/usr/bin/env bash
# run_cluster.sh — the two-host VectorAdd demo (`make run-cluster`).
#
# On this machine: one `nats-server -js` on a free loopback port with a
# store folder of its own, a gateway host (manifests/vector_add_gateway.json:
# no kernel, vadd.in exported, vadd.out imported) and a kernel host
# (manifests/vector_add_kernel_host.json: vadd.in imported, kernel vadd,
# vadd.out exported).  The demo's requests (manifests/vector_add.requests.jsonl)
# go into the gateway with `ringhost send`, travel through JetStream to the
# kernel host and back, and `ringhost recv` prints the answers, one JSON line
# each, on stdout.  Then everything is stopped by pid (SIGTERM; SIGKILL after
# STOP_S seconds) and the scratch folder removed, also when a step fails or
# the demo is interrupted: nothing is left running.
#
# The manifests name nats://127.0.0.1:4222 and ../plugins; the demo writes
# copies into its scratch folder with its own server's URL and the absolute
# plugins folder, so a server or another demo on 4222 does not matter.
#
# Environment: RINGHOST (the binary; default build/ringhost), PLUGINS (extra
# plugins folder, as `make run`'s --plugins), RINGHOST_NATS_SERVER (the
# server; default /usr/sbin/nats-server, else nats-server on PATH),
# RH_CLUSTER_KEEP=1 keeps the scratch folder (logs) for a look afterwards.
# Exit status: 0 when every answer came back and both hosts stopped with
# their accounting balanced; 1 otherwise, saying why on stderr.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ringhost=${RINGHOST:-$repo/build/ringhost}
nats=${RINGHOST_NATS_SERVER:-}
if [[ -z $nats ]]; then
    if [[ -x /usr/sbin/nats-server ]]; then nats=/usr/sbin/nats-server
    else nats=$(command -v nats-server || true); fi
fi
READY_S=30
STOP_S=10
requests=$repo/manifests/vector_add.requests.jsonl

die() { echo "run_cluster: $*" >&2; exit 1; }
[[ -x $ringhost ]] || die "no ringhost binary at $ringhost (build it: make run)"
[[ -n $nats && -x $nats ]] || die "no nats-server (install it: .ci/deps.sh cluster, Debian package nats-server)"

work=$(mktemp -d "${TMPDIR:-/tmp}/rh-cluster-XXXXXX")
# Instance names of our own, so the demo's shared memory and control
# sockets never meet another host's (`make run`'s, or a second demo's).
gw=vadd-gw-$$
kh=vadd-kh-$$
pids=()    # what we started, in start order: stopped in reverse

# Stop pid $1 (named $2): SIGTERM, SIGKILL after STOP_S; its exit status in
# $stopped_status.
stop_pid() {
    local pid=$1 what=$2 i
    stopped_status=0
    kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || stopped_status=$?; return 0; }
    for ((i = 0; i < STOP_S * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "run_cluster: $what (pid $pid) ignored SIGTERM for ${STOP_S} s: SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || stopped_status=$?
}

cleanup() {
    local status=$? i
    trap - EXIT INT TERM
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        stop_pid "${pids[i]%%:*}" "${pids[i]#*:}"
    done
    if [[ ${RH_CLUSTER_KEEP:-0} = 1 ]]; then
        echo "run_cluster: logs kept in $work" >&2
    else
        rm -rf "$work"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Wait up to READY_S for pattern $2 in file $1 while pid $3 lives.
wait_for_line() {
    local file=$1 pattern=$2 pid=$3 i
    for ((i = 0; i < READY_S * 10; i++)); do
        grep -q -- "$pattern" "$file" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# 1. nats-server on a free port: a random one below the ephemeral range
# that nobody answers on; if the server still finds it taken (a race with
# another program), another one.
port=
for ((try = 0; try < 20; try++)); do
    p=$((20000 + RANDOM % 12000))
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then continue; fi
    mkdir -p "$work/nats/store"
    "$nats" -js -a 127.0.0.1 -p "$p" -n "rh-demo-$$" -sd "$work/nats/store" \
        >"$work/nats/nats.log" 2>&1 &
    npid=$!
    if wait_for_line "$work/nats/nats.log" "Server is ready" "$npid"; then
        pids+=("$npid:nats-server")
        port=$p
        break
    fi
    kill -KILL "$npid" 2>/dev/null || true
    wait "$npid" 2>/dev/null || true
    grep -qi "address already in use" "$work/nats/nats.log" ||
        die "nats-server did not start; its log ($work/nats/nats.log):
$(tail -5 "$work/nats/nats.log")"
done
[[ -n $port ]] || die "no free port for nats-server after 20 tries"
url=nats://127.0.0.1:$port
echo "== nats-server (pid $npid) on $url, store $work/nats/store"

# 2. The manifests, with this server's URL and the plugins folder made absolute.
for m in gateway kernel_host; do
    sed -e "s|nats://127.0.0.1:4222|$url|" -e "s|\"\\.\\./plugins\"|\"$repo/plugins\"|" \
        "$repo/manifests/vector_add_$m.json" >"$work/$m.json"
done

extra=()
[[ -n ${PLUGINS:-} ]] && extra=(--plugins "$PLUGINS")

# 3. The kernel host, then the gateway; each serves once `ringhost wait` says so.
start_host() {
    local manifest=$1 instance=$2 what=$3
    "$ringhost" run "$work/$manifest.json" --instance "$instance" --no-watch "${extra[@]}" \
        >"$work/$instance.out" 2>"$work/$instance.log" &
    local pid=$!
    pids+=("$pid:$what")
    if ! "$ringhost" wait --instance "$instance" --timeout "$READY_S" >/dev/null 2>&1; then
        die "the $what did not serve within $READY_S s; its log:
$(tail -5 "$work/$instance.log")"
    fi
    echo "== $what (pid $pid) serves instance $instance: manifests/vector_add_$manifest.json"
}
start_host kernel_host "$kh" "kernel host"
start_host gateway "$gw" "gateway host"

# 4. The requests into the gateway's vadd.in; the answers out of its vadd.out.
bodies=()
while IFS= read -r line; do
    [[ -z $line ]] && continue
    bodies+=("$(sed -e 's/^.*"body": *//' -e 's/}[[:space:]]*$//' <<<"$line")")
done <"$requests"
n=${#bodies[@]}
echo "== sending $n requests (manifests/vector_add.requests.jsonl) to the gateway's vadd.in"
"$ringhost" send --instance "$gw" vadd.in "${bodies[@]}" >/dev/null ||
    die "ringhost send failed"
echo "== answers from the gateway's vadd.out (computed on the kernel host, through JetStream):"
"$ringhost" recv --instance "$gw" vadd.out -n "$n" --timeout "$READY_S" ||
    die "fewer than $n answers within $READY_S s (logs: RH_CLUSTER_KEEP=1 keeps them)"

# 5. Stop the hosts (gateway first: nothing is in flight any more) and the
# server, each by its pid; a host exits 0 only with its accounting balanced.
status=0
for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[i]%%:*} what=${pids[i]#*:}
    stop_pid "$pid" "$what"
    unset 'pids[i]'
    if [[ $what != nats-server && $stopped_status -ne 0 ]]; then
        echo "run_cluster: the $what exited $stopped_status; its log:" >&2
        grep -E "accounting|UNBALANCED|UNCONFIRMED|error" "$work"/*.log >&2 || true
        status=1
    fi
    echo "== stopped $what (pid $pid)"
done
exit "$status"
