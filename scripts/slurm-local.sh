#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for genius-slurm's tests and CI.
#
#   scripts/slurm-local.sh start    install (Debian's slurm-wlm and munge) if needed, configure, start, wait until ready
#   scripts/slurm-local.sh stop     stop the daemons this script started, by their process ids
#   scripts/slurm-local.sh status   print the daemons' process ids and the node's state
#
# Run it as root (CI containers are). The cluster has one node (this host's short name, with the CPUs and memory
# `slurmd -C` finds) and one partition, `debug`; munged, slurmctld and slurmd run in the background as root
# (SlurmUser=root, ProctrackType=proctrack/linuxproc, TaskPlugin=task/none: no cgroups, no systemd). Its state, logs
# and pid files live in $GENIUS_SLURM_DIR (default /tmp/genius-slurm). It writes /etc/slurm/slurm.conf, and refuses
# to replace one it did not write: on a machine with a real cluster, do not run it.
set -euo pipefail

DIR="${GENIUS_SLURM_DIR:-/tmp/genius-slurm}"
CONF=/etc/slurm/slurm.conf
MARK="# written by genius scripts/slurm-local.sh"

say() { echo "slurm-local: $*" >&2; }
die() { say "$*"; exit 1; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

install() {
  if command -v sbatch >/dev/null && command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
    && command -v munged >/dev/null; then
    return
  fi
  [ "$(id -u)" = 0 ] || die "slurm-wlm and munge are not installed, and installing them needs root"
  say "installing slurm-wlm and munge (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

configure() {
  if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    die "$CONF exists and was not written by this script; it will not replace a real cluster's configuration"
  fi
  local host node
  host="$(hostname -s)"
  # slurmd -C prints this host's node line: its name, CPUs, sockets, cores, threads and memory.
  node="$(slurmd -C | head -n 1)"
  case "$node" in NodeName=*) ;; *) die "slurmd -C did not describe this host: $node" ;; esac
  mkdir -p "$DIR"/{state,spool,log,run} /etc/slurm
  cat >"$CONF" <<EOF
$MARK
ClusterName=genius-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
# Start queued jobs within a second of a node freeing up (tests run many seconds-long jobs).
SchedulerParameters=sched_interval=1,bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
# A cancelled job gets SIGKILL 2 s after SIGTERM (tests cancel jobs).
KillWait=2
InactiveLimit=0
MinJobAge=300
$node State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
  if alive "$DIR/run/munged.pid"; then return; fi
  if [ ! -s /etc/munge/munge.key ]; then
    say "creating a munge key"
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chmod 0600 /etc/munge/munge.key
  # munged checks that its key and directories belong to the user it runs as: root here.
  chown -R root:root /etc/munge
  chmod 0700 /etc/munge
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown root:root /run/munge /var/lib/munge /var/log/munge
  chmod 0755 /run/munge
  munged --force --pid-file="$DIR/run/munged.pid" --log-file="$DIR/log/munged.log"
}

start() {
  [ "$(id -u)" = 0 ] || die "start needs root (the daemons run as root)"
  install
  configure
  start_munge
  if ! alive "$DIR/run/slurmctld.pid"; then
    slurmctld -i
  fi
  if ! alive "$DIR/run/slurmd.pid"; then
    slurmd
  fi
  local host state i
  host="$(hostname -s)"
  for i in $(seq 1 60); do
    state="$(sinfo -h -n "$host" -o %T 2>/dev/null || true)"
    case "$state" in
      idle* | mixed* | allocated*) say "ready: node $host is $state (state and logs in $DIR)"; return ;;
      down* | drain*) scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 0.5
  done
  say "the node did not become ready (last state: ${state:-none}); see $DIR/log"
  tail -n 20 "$DIR"/log/*.log >&2 || true
  exit 1
}

stop() {
  local name pid
  for name in slurmd slurmctld munged; do
    if alive "$DIR/run/$name.pid"; then
      pid="$(cat "$DIR/run/$name.pid")"
      kill "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
      say "stopped $name (pid $pid)"
    fi
    rm -f "$DIR/run/$name.pid"
  done
}

status() {
  local name
  for name in munged slurmctld slurmd; do
    if alive "$DIR/run/$name.pid"; then echo "$name: running (pid $(cat "$DIR/run/$name.pid"))"; else echo "$name: stopped"; fi
  done
  if alive "$DIR/run/slurmctld.pid"; then sinfo; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
