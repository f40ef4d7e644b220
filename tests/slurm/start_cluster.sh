#!/usr/bin/env bash
# Start a single-node SLURM cluster on localhost for tests/test_slurm.py (run as root).
#
#   bash tests/slurm/start_cluster.sh [DIR]      # DIR defaults to /tmp/skyhunt-slurm
#
# Installs Debian's slurm-wlm and munge when slurmctld is missing, writes slurm.conf and
# gres.conf under DIR/etc, starts munged, slurmctld and slurmd, and waits until sinfo shows the
# node idle. The node declares CPUs=2, a RealMemory a little below the machine's and one GPU as a
# counted GRES without a device file, so jobs that ask for a GPU schedule on a machine without
# one. Accounting: none (no slurmdbd); finished jobs stay in slurmctld for MinJobAge (1 day), where
# `scontrol show job` and squeue report them, and each finished job is appended to
# DIR/jobcomp.txt (jobcomp/filetxt). Running it again with the cluster up only checks it.
# Stop it with tests/slurm/stop_cluster.sh DIR.
set -euo pipefail

DIR=${1:-/tmp/skyhunt-slurm}
ETC=$DIR/etc
HOST=$(hostname -s)
die() { echo "start_cluster: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (slurmd must start jobs as the submitting user)"

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    echo "start_cluster: installing slurm-wlm and munge from Debian's packages"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null ||
        die "apt-get install slurm-wlm munge did not provide slurmctld, slurmd and munged"
fi

export SLURM_CONF=$ETC/slurm.conf
if [ -f "$SLURM_CONF" ] && sinfo -h -N -o '%T' 2>/dev/null | grep -qxE 'idle|mixed|allocated'; then
    echo "start_cluster: already running (SLURM_CONF=$SLURM_CONF)"
    exit 0
fi

mkdir -p "$ETC" "$DIR/state" "$DIR/spool" "$DIR/log"
mem_mb=$(free -m | awk '/^Mem:/ {print int($2 * 0.9)}')

cat >"$ETC/slurm.conf" <<CONF
ClusterName=skyhunt-test
SlurmctldHost=$HOST(127.0.0.1)
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
# no cgroups: plain process tracking, so it runs inside containers too
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
ReturnToService=2
MinJobAge=86400
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.txt
GresTypes=gpu
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=2 RealMemory=$mem_mb Gres=gpu:1 State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

cat >"$ETC/gres.conf" <<CONF
# a counted GPU without a device file: scheduling only, nothing is bound
Name=gpu Count=1
CONF

# munge: one key on this host, daemon as the munge user when it exists
if ! pgrep -x munged >/dev/null; then
    key=/etc/munge/munge.key
    if [ ! -s "$key" ]; then
        mkdir -p /etc/munge
        dd if=/dev/urandom of="$key" bs=1024 count=1 status=none
    fi
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    if id munge >/dev/null 2>&1; then
        chown munge:munge "$key" /run/munge /var/lib/munge /var/log/munge
        chmod 400 "$key"
        runuser -u munge -- munged || die "munged did not start"
    else
        chmod 400 "$key"
        munged --force || die "munged did not start"
    fi
    touch "$DIR/munged.started"  # stop_cluster.sh ends only a munged that this script started
fi
munge -n | unmunge >/dev/null || die "munge cannot encode and decode a credential"

pgrep -x slurmctld >/dev/null || slurmctld -f "$SLURM_CONF" ||
    die "slurmctld did not start: see $DIR/log/slurmctld.log"
pgrep -x slurmd >/dev/null || slurmd -f "$SLURM_CONF" -N "$HOST" ||
    die "slurmd did not start: see $DIR/log/slurmd.log"

for _ in $(seq 60); do
    state=$(sinfo -h -N -o '%T' 2>/dev/null || true)
    if [ "$state" = idle ]; then
        echo "start_cluster: node $HOST idle; export SLURM_CONF=$SLURM_CONF"
        exit 0
    fi
    sleep 1
done
die "node not idle after 60 s (sinfo says '${state:-nothing}'): see $DIR/log/"
