#!/usr/bin/env bash
# Start a single-node SLURM cluster with accounting on localhost for tests/test_slurm.py (as root).
#
#   bash tests/slurm/start_cluster.sh [DIR]      # DIR defaults to /tmp/skyhunt-slurm
#
# Installs Debian's slurm-wlm, slurmdbd, munge and mariadb-server when a daemon is missing, writes
# slurm.conf, gres.conf and slurmdbd.conf under DIR/etc (and links /etc/slurm/slurm.conf to
# DIR/etc/slurm.conf), starts munged, MariaDB (its own data directory DIR/mysql, 127.0.0.1:3307),
# slurmdbd, slurmctld and slurmd, registers the cluster, an account `skyhunt` and root's
# association with it (root's default account), and waits until sinfo shows the node idle.
# The node declares CPUs=2, a RealMemory a little below the machine's and one GPU GRES whose device
# file is a stand-in for /dev/null, so jobs that ask for a GPU schedule on a machine without one.
# Accounting is real: every job is stored by slurmdbd, and `sacct` reports it (as on a site).
# Running it again with the cluster up only checks it. Stop it with tests/slurm/stop_cluster.sh DIR.
set -euo pipefail

DIR=${1:-/tmp/skyhunt-slurm}
ETC=$DIR/etc
HOST=$(hostname -s)
CLUSTER=skyhunt-test
ACCOUNT=skyhunt
DB_PORT=3307
DB_PASS=skyhunt-test  # the local MariaDB's slurm user; it listens on 127.0.0.1 only
die() { echo "start_cluster: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (slurmd must start jobs as the submitting user)"

DAEMONS="slurmctld slurmd slurmdbd munged mariadbd"
missing() { for d in $DAEMONS; do command -v "$d" >/dev/null || return 0; done; return 1; }

if missing; then
    pkgs="slurm-wlm slurmdbd munge mariadb-server"
    echo "start_cluster: installing $pkgs from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    # apt-get first; some images ship a stub apt-get that installs nothing, so apt as well
    for tool in apt-get apt; do
        "$tool" update -q || true
        "$tool" install -y -q --no-install-recommends $pkgs || true
        missing || break
    done
    # the postinst scripts create their system users with adduser, which fails on some images:
    # create the users directly and finish the configuration
    for user in munge slurm mysql; do
        id "$user" >/dev/null 2>&1 ||
            useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
    done
    dpkg --configure -a
    ! missing || die "installing $pkgs did not provide all of: $DAEMONS"
fi

export SLURM_CONF=$ETC/slurm.conf
# Client commands inside jobs need the configuration at the default path: the executor plugin
# deletes SLURM_* (SLURM_CONF too) from a job's environment before the job's srun. Link it there,
# but never over a site's own file.
SITE_CONF=/etc/slurm/slurm.conf
if [ "$(readlink "$SITE_CONF" 2>/dev/null)" != "$SLURM_CONF" ]; then
    [ ! -e "$SITE_CONF" ] && [ ! -L "$SITE_CONF" ] || die "$SITE_CONF exists: not replacing a site's configuration"
    mkdir -p /etc/slurm
    ln -s "$SLURM_CONF" "$SITE_CONF"
fi
if [ -f "$SLURM_CONF" ] && sinfo -h -N -o '%T' 2>/dev/null | grep -qxE 'idle|mixed|allocated'; then
    echo "start_cluster: already running (SLURM_CONF=$SLURM_CONF)"
    exit 0
fi

mkdir -p "$ETC" "$DIR/state" "$DIR/spool" "$DIR/log"
mem_mb=$(free -m | awk '/^Mem:/ {print int($2 * 0.9)}')

cat >"$ETC/slurm.conf" <<CONF
ClusterName=$CLUSTER
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
JobAcctGatherType=jobacct_gather/linux
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
ReturnToService=2
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
AccountingStorageTRES=gres/gpu
# keep each job's --comment (the executor plugin writes rule_<rule>[_wildcards_...] there) for sacct
AccountingStoreFlags=job_comment
GresTypes=gpu
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=2 RealMemory=$mem_mb Gres=gpu:1 State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

# One GPU for scheduling only. Slurm's gres/gpu drops a GPU without File= ("Removing file-less GPU"
# in slurmd's log, and the node goes INVAL), and wants a character device: DIR/gpu0 is a copy of
# /dev/null (1,3) that nothing opens. A job that asks for it gets CUDA_VISIBLE_DEVICES=0.
[ -c "$DIR/gpu0" ] || mknod "$DIR/gpu0" c 1 3 || die "cannot create the placeholder device $DIR/gpu0"
cat >"$ETC/gres.conf" <<CONF
Name=gpu File=$DIR/gpu0
CONF

# slurmdbd finds slurmdbd.conf beside \$SLURM_CONF; it must be private to SlurmUser
cat >"$ETC/slurmdbd.conf" <<CONF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
PidFile=$DIR/slurmdbd.pid
LogFile=$DIR/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
CONF
chmod 600 "$ETC/slurmdbd.conf"

# munge: one key on this host, daemon as the munge user
if ! pgrep -x munged >/dev/null; then
    key=/etc/munge/munge.key
    if [ ! -s "$key" ]; then
        mkdir -p /etc/munge
        dd if=/dev/urandom of="$key" bs=1024 count=1 status=none
    fi
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    chown munge:munge /etc/munge "$key" /run/munge /var/lib/munge /var/log/munge
    chmod 400 "$key"
    runuser -u munge -- munged || die "munged did not start"
    touch "$DIR/munged.started"  # stop_cluster.sh ends only a munged that this script started
fi
munge -n | unmunge >/dev/null || die "munge cannot encode and decode a credential"

# MariaDB for slurmdbd: a data directory of its own, TCP on 127.0.0.1 only
sql() { mariadb --socket="$DIR/mysql.sock" -u root "$@"; }
if ! sql -e 'SELECT 1' >/dev/null 2>&1; then
    if [ ! -d "$DIR/mysql/mysql" ]; then
        mariadb-install-db --user=root --datadir="$DIR/mysql" --skip-test-db \
            >"$DIR/log/mariadb-install.log" 2>&1 || die "mariadb-install-db failed: see $DIR/log/"
    fi
    setsid mariadbd --user=root --datadir="$DIR/mysql" --socket="$DIR/mysql.sock" \
        --port=$DB_PORT --bind-address=127.0.0.1 --skip-name-resolve \
        --pid-file="$DIR/mariadb.pid" --log-error="$DIR/log/mariadb.log" </dev/null >/dev/null 2>&1 &
    for _ in $(seq 60); do sql -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 1; done
    sql -e 'SELECT 1' >/dev/null 2>&1 || die "MariaDB did not start: see $DIR/log/mariadb.log"
fi
sql <<SQL
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
SQL

if ! pgrep -x slurmdbd >/dev/null; then
    slurmdbd || die "slurmdbd did not start: see $DIR/log/slurmdbd.log"
fi
for _ in $(seq 60); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 1; done
sacctmgr -n list cluster >/dev/null 2>&1 || die "slurmdbd does not answer: see $DIR/log/slurmdbd.log"
# the cluster (which brings the account root), the account skyhunt and root's association with it;
# sacctmgr fails on entries that exist, hence the checks
[ -n "$(sacctmgr -n list cluster $CLUSTER format=cluster)" ] || sacctmgr -i add cluster $CLUSTER
[ -n "$(sacctmgr -n list account $ACCOUNT format=account)" ] ||
    sacctmgr -i add account $ACCOUNT cluster=$CLUSTER description=skyhunt-tests organization=skyhunt
[ -n "$(sacctmgr -n list assoc user=root account=$ACCOUNT format=user)" ] ||
    sacctmgr -i add user root account=$ACCOUNT cluster=$CLUSTER
[ "$(sacctmgr -n -P list user root format=defaultaccount)" = $ACCOUNT ] ||
    sacctmgr -i modify user root set defaultaccount=$ACCOUNT

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
    # a node drained by an earlier start (state is kept in DIR/state) comes back with this config
    case $state in drain* | down*) scontrol update NodeName="$HOST" State=RESUME || true ;; esac
    sleep 1
done
die "node not idle after 60 s (sinfo says '${state:-nothing}'): see $DIR/log/"
