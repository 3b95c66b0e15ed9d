#!/usr/bin/env bash
# A private single-node Slurm cluster on loopback (tests/test_slurm.py uses it; so can you):
#   tests/slurm/cluster.sh start DIR   # installs slurm-wlm + munge if absent (apt-get, root),
#                                      # starts munged, slurmctld, slurmd with state in DIR
#   tests/slurm/cluster.sh stop DIR    # cancels its jobs, stops the daemons by their pid files
# The config is DIR/slurm.conf, linked from /etc/slurm/slurm.conf while the cluster runs:
# SLURM_CONF alone is not enough, as snakemake's slurm-jobstep plugin drops SLURM_* variables
# before the srun inside each job, and srun then looks only in the default place. A real
# /etc/slurm/slurm.conf (not a link) is left alone: start refuses to run.
# Needs root (slurmd launches jobs; apt-get; /etc). Ports: SLURM_TEST_PORT (slurmctld) and +1.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cmd="${1:-}"; dir="${2:-}"
[[ "$cmd" =~ ^(start|stop)$ && -n "$dir" ]] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
mkdir -p "$dir"; dir="$(cd "$dir" && pwd)"
export SLURM_CONF="$dir/slurm.conf"
CPUS=4            # more than the CI machine's 2 cores (config_overrides): jobs are light
MEM_MB=16000      # 4 jobs x the largest rule's 3000 MB, with room; not enforced (no cgroups)

install() {
    local tool missing=0
    for tool in munged slurmctld slurmd sbatch squeue sinfo scancel; do
        command -v "$tool" >/dev/null || missing=1
    done
    [[ $missing == 0 ]] && return
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
        echo "Slurm is not installed and cannot be (needs root and apt-get)" >&2; exit 3
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

# stop the process of a pid file: TERM, up to 10 s, then KILL
stop_pid() {
    local pidfile="$1" pid i
    [[ -s "$pidfile" ]] || return 0
    pid="$(cat "$pidfile")"
    kill -TERM "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

start() {
    install
    local port="${SLURM_TEST_PORT:-16817}"
    mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
    chmod 700 "$dir/munge"
    if [[ -e /etc/slurm/slurm.conf && ! -L /etc/slurm/slurm.conf ]]; then
        echo "/etc/slurm/slurm.conf exists (a configured Slurm): not replacing it" >&2; exit 3
    fi
    sed -e "s|@DIR@|$dir|g" -e "s|@CTLD_PORT@|$port|" -e "s|@SLURMD_PORT@|$((port + 1))|" \
        -e "s|@CPUS@|$CPUS|" -e "s|@MEM_MB@|$MEM_MB|" "$here/slurm.conf.in" > "$SLURM_CONF"
    mkdir -p /etc/slurm
    ln -sfn "$SLURM_CONF" /etc/slurm/slurm.conf
    # a fresh munge key and our own munged (socket, pid and log in DIR)
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$dir/munge/munge.key"
    munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
        --seed-file="$dir/munge/munged.seed"
    slurmctld -f "$SLURM_CONF"
    slurmd -f "$SLURM_CONF" -N localhost
    local i state=""
    for i in $(seq 60); do
        state="$(sinfo -h -N -o %t 2>/dev/null || true)"
        [[ "$state" == idle ]] && { echo "SLURM_CONF=$SLURM_CONF"; return 0; }
        sleep 0.5
    done
    echo "node not idle after 30 s (state: '${state}'); logs:" >&2
    tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" "$dir/munge/munged.log" >&2 || true
    exit 1
}

stop() {
    # cancel what is left of our jobs (this SLURM_CONF is our private cluster) and give
    # slurmd a moment to end their steps, then the daemons
    if [[ -s "$dir/slurmctld.pid" ]] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
        scancel --user "$(id -un)" 2>/dev/null || true
        local i
        for i in $(seq 30); do
            [[ -z "$(squeue -h -t running,completing -o %i 2>/dev/null)" ]] && break
            sleep 1
        done
    fi
    stop_pid "$dir/slurmd.pid"
    stop_pid "$dir/slurmctld.pid"
    stop_pid "$dir/munge/munged.pid"
    if [[ -L /etc/slurm/slurm.conf && "$(readlink /etc/slurm/slurm.conf)" == "$SLURM_CONF" ]]; then
        rm -f /etc/slurm/slurm.conf
    fi
}

"$cmd"
