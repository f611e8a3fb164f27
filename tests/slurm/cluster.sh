#!/usr/bin/env bash
# A real one-node Slurm 22.05 cluster for warmstart's Slurm tests and benchmarks.
#
#   tests/slurm/cluster.sh install       apt-get the Debian packages (skipped when present)
#   tests/slurm/cluster.sh start         install if needed, write slurm.conf, start
#                                        munged -> slurmctld -> slurmd, wait until a probe
#                                        job completes; does nothing when already up
#   tests/slurm/cluster.sh stop          SIGTERM the daemons THIS script started (by the PIDs
#                                        it recorded), never any other process
#   tests/slurm/cluster.sh status        print "up" / "down" (exit 0 when up, 3 when down)
#   tests/slurm/cluster.sh restart-ctld  SIGTERM slurmctld, start it again, wait until it answers
#
# Runs as root, without systemd (sandboxes, CI containers). All state, logs and PID files live
# under one base directory: $WARMSTART_SLURM_DIR (default /var/tmp/warmstart-slurm). The
# config goes to /etc/slurm/slurm.conf, the path every Slurm client reads by default, so tests
# need no environment; a slurm.conf that this script did not write is never overwritten.
# Facts behind the config lines: docs in the shared notes "slurm-one-node.md" (why each line).
# Ports 6817/6818 are fixed by Slurm's defaults: one such cluster per host.
set -euo pipefail

BASE=${WARMSTART_SLURM_DIR:-/var/tmp/warmstart-slurm}
CONF=/etc/slurm/slurm.conf
MARKER="# written by warmstart tests/slurm/cluster.sh"
PIDS="$BASE/pids"
LOGS="$BASE/log"
# Seconds a client call may take before we call the cluster unresponsive (a host name that
# does not resolve makes clients hang in DNS; a dead controller makes them retry for minutes).
CLIENT_TIMEOUT=${WARMSTART_SLURM_CLIENT_TIMEOUT:-10}
# Seconds to wait for each readiness step.
READY_TIMEOUT=${WARMSTART_SLURM_READY_TIMEOUT:-60}

die() {
    echo "cluster.sh: error: $*" >&2
    exit 1
}
note() { echo "cluster.sh: $*" >&2; }

need_root() {
    [[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages and starts daemons as root); try: sudo $0 $*"
}

# ---------------------------------------------------------------------------------------------
# PID bookkeeping: a daemon counts as ours only if its PID file is under $PIDS and the process
# with that PID still has the expected command name (a recycled PID is not ours).
# ---------------------------------------------------------------------------------------------
pid_of() { # name -> prints pid if that daemon, started by us, is alive
    local name=$1 file="$PIDS/$1.pid" pid comm
    [[ -f $file ]] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $comm == "$name" ]] || return 1
    echo "$pid"
}

ctld_port_free() { ! port_listening 6817; }

port_listening() { # port -> 0 if some process listens on it (IPv4 or IPv6)
    local hex
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" 'NR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

elapsed() { # start ($EPOCHREALTIME) -> seconds since, 2 decimals
    awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'
}

wait_until() { # seconds description command... -> polls every 0.1 s
    local limit=$1 what=$2
    shift 2
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
    note "$what"
}

# ---------------------------------------------------------------------------------------------
# install
# ---------------------------------------------------------------------------------------------
installed() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
        command -v sbatch >/dev/null && command -v munged >/dev/null
}

cmd_install() {
    need_root install
    if installed; then
        note "Slurm already installed ($(slurmctld -V 2>/dev/null || echo "version unknown")); skipping apt-get"
        return 0
    fi
    command -v apt-get >/dev/null || die "Slurm is not installed and there is no apt-get; install slurmctld, slurmd, slurm-client and munge (Slurm 22.05+) with this system's package manager"
    note "installing slurmctld slurmd slurm-client munge with apt-get"
    local log="${TMPDIR:-/tmp}/warmstart-slurm-apt.$$.log"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            slurmctld slurmd slurm-client munge; } >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        die "apt-get failed (full log: $log); check network access to the Debian mirrors and free disk space, then run '$0 install' again"
    fi
    rm -f "$log"
    installed || die "apt-get succeeded but slurmctld/slurmd/sbatch/munged are still not on PATH"
    note "installed $(slurmctld -V)"
}

# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------
write_conf() {
    local host node_line mem
    host=$(hostname -s)
    # `slurmd -C` prints this machine's exact topology; using it avoids "Node reconfigured
    # socket/core boundaries". RealMemory a bit under MemTotal, else the node may drain.
    node_line=$(timeout "$CLIENT_TIMEOUT" slurmd -C 2>/dev/null | head -n 1) ||
        die "'slurmd -C' failed; cannot learn this machine's CPU topology"
    [[ $node_line == NodeName=* ]] || die "'slurmd -C' printed an unexpected line: $node_line"
    mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node_line")
    [[ -n $mem ]] || die "'slurmd -C' printed no RealMemory: $node_line"
    node_line=$(sed "s/RealMemory=[0-9]*/RealMemory=$((mem * 9 / 10))/" <<<"$node_line")

    if [[ -f $CONF ]] && ! grep -qF "$MARKER" "$CONF"; then
        die "$CONF exists and was not written by this script; refusing to overwrite a real cluster's configuration (move it away to use the test cluster)"
    fi
    mkdir -p "$(dirname "$CONF")"
    local tmp="$CONF.tmp.$$"
    cat >"$tmp" <<EOF
$MARKER
# One-node test cluster; all state under $BASE. Regenerated on every start.
ClusterName=warmstart
# Explicit addresses: an unresolvable host name makes slurmctld and every client hang in DNS.
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
StateSaveLocation=$BASE/state
SlurmdSpoolDir=$BASE/spool
SlurmctldPidFile=$BASE/run/slurmctld.pid
SlurmdPidFile=$BASE/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
# No cgroups in containers/gVisor.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# The default batch_sched_delay=3 adds ~3 s to every job.
SchedulerParameters=batch_sched_delay=0
# No slurmdbd: sacct is unavailable, except 'sacct -c' on the jobcomp file.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$BASE/jobcomp.txt
# Finished jobs stay visible to squeue/scontrol for 10 minutes.
MinJobAge=600
ReturnToService=2
MailProg=/bin/true
$node_line NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$tmp" "$CONF"
}

prepare_dirs() {
    mkdir -p "$BASE/state" "$BASE/spool" "$BASE/run" "$LOGS" "$PIDS"
    # Readers of the jobcomp file (sacct -c) need write access to it.
    touch "$BASE/jobcomp.txt"
    chmod 0666 "$BASE/jobcomp.txt"
}

# ---------------------------------------------------------------------------------------------
# daemons
# ---------------------------------------------------------------------------------------------
munge_ok() { timeout "$CLIENT_TIMEOUT" munge -n </dev/null 2>/dev/null | timeout "$CLIENT_TIMEOUT" unmunge >/dev/null 2>&1; }
ctld_up() { timeout "$CLIENT_TIMEOUT" scontrol ping 2>/dev/null | grep -q 'is UP'; }
node_state() { timeout "$CLIENT_TIMEOUT" sinfo -h -N -o %T 2>/dev/null | head -n 1; }

start_munged() {
    if munge_ok; then
        if pid_of munged >/dev/null; then
            note "munged already running (ours, pid $(pid_of munged))"
        else
            note "munged already running (not started by this script; left alone on stop)"
        fi
        return 0
    fi
    if [[ ! -f /etc/munge/munge.key ]]; then
        command -v mungekey >/dev/null || die "/etc/munge/munge.key is missing and there is no mungekey to create it"
        mungekey --create >/dev/null || die "mungekey --create failed"
        chown munge:munge /etc/munge/munge.key 2>/dev/null || true
    fi
    mkdir -p /run/munge
    chown munge:munge /run/munge
    chmod 0755 /run/munge
    rm -f /run/munge/munged.pid
    # munged daemonizes and writes its own PID file.
    runuser -u munge -- /usr/sbin/munged >"$LOGS/munged.start.log" 2>&1 ||
        die "munged failed to start: $(tail -n 5 "$LOGS/munged.start.log")"
    wait_until "$READY_TIMEOUT" "munged up" munge_ok ||
        die "munged started but 'munge -n | unmunge' does not work within ${READY_TIMEOUT}s; see /var/log/munge/munged.log"
    cp /run/munge/munged.pid "$PIDS/munged.pid" ||
        die "munged wrote no /run/munge/munged.pid; cannot record it for stop"
}

# Starts a Slurm daemon in the foreground mode (-D) in its own session, recording its PID.
spawn() { # name
    local name=$1
    # Not a process-group leader, so setsid execs in place: $! is the daemon's own PID.
    setsid "/usr/sbin/$name" -D -f "$CONF" </dev/null >>"$LOGS/$name.out" 2>&1 &
    echo $! >"$PIDS/$name.pid"
    sleep 0.05
    pid_of "$name" >/dev/null ||
        die "$name exited at once: $(tail -n 5 "$LOGS/$name.out" "$LOGS/$name.log" 2>/dev/null)"
}

start_ctld() {
    if pid_of slurmctld >/dev/null && ctld_up; then
        note "slurmctld already running (pid $(pid_of slurmctld))"
        return 0
    fi
    if port_listening 6817; then
        die "port 6817 (slurmctld) is busy: another slurmctld (or program) listens on it; only one cluster per host; stop it first ('ss -ltnp | grep 6817' shows who)"
    fi
    spawn slurmctld
    wait_until "$READY_TIMEOUT" "slurmctld up" ctld_up ||
        die "slurmctld does not answer 'scontrol ping' within ${READY_TIMEOUT}s; see $LOGS/slurmctld.log"
}

start_slurmd() {
    if pid_of slurmd >/dev/null; then
        note "slurmd already running (pid $(pid_of slurmd))"
    else
        if port_listening 6818; then
            die "port 6818 (slurmd) is busy: another slurmd (or program) listens on it; stop it first ('ss -ltnp | grep 6818' shows who)"
        fi
        spawn slurmd
    fi
    wait_node
}

# Waits until the node is usable (idle, or busy with jobs), resuming it if it came back down.
wait_node() {
    local deadline=$((SECONDS + READY_TIMEOUT)) state
    while :; do
        state=$(node_state)
        case $state in
        idle* | mix* | alloc*) break ;;
        down* | drain*)
            timeout "$CLIENT_TIMEOUT" scontrol update NodeName="$(hostname -s)" State=RESUME >/dev/null 2>&1 || true
            ;;
        esac
        ((SECONDS < deadline)) ||
            die "node never became idle within ${READY_TIMEOUT}s (state: '${state:-none}'); see $LOGS/slurmd.log and $LOGS/slurmctld.log"
        sleep 0.1
    done
    note "node $state"
}

# A freshly started controller does not start jobs for ~3 s although the node shows idle:
# the cluster is ready only once a trivial job has completed.
probe_job() {
    local id state deadline=$((SECONDS + READY_TIMEOUT))
    id=$(timeout "$CLIENT_TIMEOUT" sbatch --parsable --job-name=warmstart-probe \
        --output=/dev/null --wrap=true 2>&1) || die "probe sbatch failed: $id"
    id=${id%%;*}
    while :; do
        state=$(timeout "$CLIENT_TIMEOUT" scontrol show job -o "$id" 2>/dev/null |
            sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
        case $state in
        COMPLETED) break ;;
        FAILED | CANCELLED | TIMEOUT | NODE_FAIL | BOOT_FAIL | OUT_OF_MEMORY)
            die "probe job $id ended $state; see $LOGS/slurmd.log" ;;
        esac
        ((SECONDS < deadline)) ||
            die "probe job $id not COMPLETED within ${READY_TIMEOUT}s (state: '${state:-unknown}'); see $LOGS/slurmctld.log"
        sleep 0.1
    done
    note "probe job $id completed"
}

all_up() {
    pid_of slurmctld >/dev/null && pid_of slurmd >/dev/null && munge_ok && ctld_up && node_idle_or_busy
}
node_idle_or_busy() {
    case $(node_state) in
    idle* | mix* | alloc*) return 0 ;;
    *) return 1 ;;
    esac
}

cmd_start() {
    need_root start
    installed || cmd_install
    prepare_dirs
    if all_up; then
        note "already up (slurmctld pid $(pid_of slurmctld), slurmd pid $(pid_of slurmd)); nothing to do"
        return 0
    fi
    local t0=$EPOCHREALTIME
    # Never rewrite the config under running daemons that read it.
    if ! pid_of slurmctld >/dev/null && ! pid_of slurmd >/dev/null; then
        write_conf
    fi
    # Fail before starting anything when another cluster holds Slurm's ports.
    if ! pid_of slurmctld >/dev/null && port_listening 6817; then
        die "port 6817 (slurmctld) is busy: another slurmctld (or program) listens on it; only one cluster per host; stop it first ('ss -ltnp | grep 6817' shows who)"
    fi
    if ! pid_of slurmd >/dev/null && port_listening 6818; then
        die "port 6818 (slurmd) is busy: another slurmd (or program) listens on it; only one cluster per host; stop it first ('ss -ltnp | grep 6818' shows who)"
    fi
    start_munged
    start_ctld
    start_slurmd
    probe_job
    note "up in $(elapsed "$t0")s; state and logs under $BASE"
}

# SIGTERM one of our daemons and wait for it to exit (SIGTERM keeps slurmctld's state; SIGKILL
# can lose the last ~2 s of it, so it is only the last resort).
stop_one() { # name
    local name=$1 pid
    if ! pid=$(pid_of "$name"); then
        rm -f "$PIDS/$name.pid"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while [[ -d /proc/$pid ]] && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]]; do
        if ((SECONDS >= deadline)); then
            note "warning: $name (pid $pid) ignored SIGTERM for 30s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.1
    done
    rm -f "$PIDS/$name.pid"
    note "stopped $name (pid $pid)"
}

cmd_stop() {
    need_root stop
    stop_one slurmd
    stop_one slurmctld
    stop_one munged
}

cmd_restart_ctld() {
    need_root restart-ctld
    local t0=$EPOCHREALTIME
    pid_of slurmctld >/dev/null || die "slurmctld is not running under this script's control; run '$0 start' first"
    stop_one slurmctld
    # The port can linger for a moment after the old controller exits.
    wait_until 10 "port 6817 free" ctld_port_free ||
        die "port 6817 still busy 10s after slurmctld exited"
    spawn slurmctld
    wait_until "$READY_TIMEOUT" "slurmctld up again" ctld_up ||
        die "restarted slurmctld does not answer 'scontrol ping' within ${READY_TIMEOUT}s; see $LOGS/slurmctld.log"
    # Until slurmd re-registers (a few seconds) the node shows "unknown" and nothing starts.
    wait_node
    note "slurmctld restarted in $(elapsed "$t0")s"
}

cmd_status() {
    if installed && all_up; then
        echo "up: slurmctld pid $(pid_of slurmctld), slurmd pid $(pid_of slurmd), node $(node_state); base $BASE"
        return 0
    fi
    local parts=()
    installed || parts+=("not installed")
    if installed; then
        pid_of munged >/dev/null && parts+=("munged pid $(pid_of munged)")
        pid_of slurmctld >/dev/null && parts+=("slurmctld pid $(pid_of slurmctld)")
        pid_of slurmd >/dev/null && parts+=("slurmd pid $(pid_of slurmd)")
    fi
    echo "down${parts[*]:+: ${parts[*]}}"
    return 3
}

case ${1:-} in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
restart-ctld) cmd_restart_ctld ;;
*)
    echo "usage: $0 {install|start|stop|status|restart-ctld}" >&2
    exit 2
    ;;
esac
