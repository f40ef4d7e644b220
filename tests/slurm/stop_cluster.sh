#!/usr/bin/env bash
# Stop the cluster that tests/slurm/start_cluster.sh started: its slurmd, slurmctld, slurmdbd,
# MariaDB, the munged it started and its link /etc/slurm/slurm.conf.
#
#   bash tests/slurm/stop_cluster.sh [DIR]       # the DIR given to start_cluster.sh
#
# Each daemon is ended by the process id in its pid file; a daemon that is not running is
# skipped, so running it twice is harmless. DIR (configuration, state, the accounting database,
# logs) is kept, so a restart keeps the jobs' history; remove DIR to start afresh.
set -euo pipefail

DIR=${1:-/tmp/skyhunt-slurm}

stop_pid_file() {  # NAME PIDFILE
    local pid
    if [ -s "$2" ] && pid=$(cat "$2") && kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 30); do
            kill -0 "$pid" 2>/dev/null || { echo "stop_cluster: $1 ($pid) stopped"; return 0; }
            sleep 1
        done
        echo "stop_cluster: $1 ($pid) still running after 30 s" >&2
        return 1
    fi
    echo "stop_cluster: $1 not running"
}

stop_pid_file slurmd "$DIR/slurmd.pid"
stop_pid_file slurmctld "$DIR/slurmctld.pid"
stop_pid_file slurmdbd "$DIR/slurmdbd.pid"
stop_pid_file mariadbd "$DIR/mariadb.pid"
if [ -e "$DIR/munged.started" ]; then
    stop_pid_file munged /run/munge/munged.pid
    rm -f "$DIR/munged.started"
fi
# the link start_cluster.sh made at the default configuration path
if [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$DIR/etc/slurm.conf" ]; then
    rm /etc/slurm/slurm.conf
    echo "stop_cluster: removed the link /etc/slurm/slurm.conf"
fi
