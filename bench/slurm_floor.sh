#!/usr/bin/env bash
# The floor a Slurm executor is compared against: what plain sbatch costs on this cluster.
#
#   bench/slurm_floor.sh [ROUNDS]      (cluster started first: tests/slurm/cluster.sh start)
#
# Cases (each job is trivial: it touches one file):
#   a   200 independent jobs, 200 sbatch calls
#   a'  the same 200 as ONE array job (--array=0-199), 1 sbatch call
#   b   a 50-deep afterok chain, all 50 submitted at once
# Wall time runs from just before the first sbatch to the moment the last job's file exists
# (each job touches a file when it ends; we poll the directory, not sacct, which needs
# slurmdbd). Writes a markdown table to stdout; progress to stderr.
set -euo pipefail

ROUNDS=${1:-1}
N_INDEPENDENT=${N_INDEPENDENT:-200}
CHAIN_DEPTH=${CHAIN_DEPTH:-50}
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/slurm-floor.XXXXXX")}
trap 'rm -rf "$WORK"' EXIT

die() {
    echo "slurm_floor.sh: error: $*" >&2
    exit 1
}
timeout 10 scontrol ping 2>/dev/null | grep -q 'is UP' ||
    die "no Slurm controller answers; start the test cluster with tests/slurm/cluster.sh start"

now() { echo "$EPOCHREALTIME"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# Polls until DIR holds N files; fails after a generous limit (3 s per job).
wait_files() { # dir n
    local dir=$1 n=$2 deadline=$((SECONDS + 3 * $2 + 30)) have
    while :; do
        have=$(find "$dir" -type f | wc -l)
        ((have >= n)) && return 0
        ((SECONDS < deadline)) || die "only $have of $n jobs finished in $dir within $((3 * n + 30)) s; see squeue"
        sleep 0.05
    done
}

# Waits until none of this benchmark's jobs is left in the queue (so cases do not overlap).
wait_queue_empty() {
    while [[ -n $(timeout 10 squeue -h -n slurm-floor -o %i) ]]; do sleep 0.2; done
}

SBATCH=(sbatch --parsable --job-name=slurm-floor --output=/dev/null --error=/dev/null)

case_independent() { # -> prints "submit_s wall_s"
    local dir=$WORK/a.$1 t0 t1 t2 i
    mkdir -p "$dir"
    t0=$(now)
    for ((i = 0; i < N_INDEPENDENT; i++)); do
        timeout 10 "${SBATCH[@]}" --wrap="touch $dir/$i" >/dev/null
    done
    t1=$(now)
    wait_files "$dir" "$N_INDEPENDENT"
    t2=$(now)
    echo "$(secs "$t0" "$t1") $(secs "$t0" "$t2")"
}

case_array() {
    local dir=$WORK/arr.$1 t0 t1 t2
    mkdir -p "$dir"
    t0=$(now)
    timeout 10 "${SBATCH[@]}" --array=0-$((N_INDEPENDENT - 1)) \
        --wrap="touch $dir/\$SLURM_ARRAY_TASK_ID" >/dev/null
    t1=$(now)
    wait_files "$dir" "$N_INDEPENDENT"
    t2=$(now)
    echo "$(secs "$t0" "$t1") $(secs "$t0" "$t2")"
}

case_chain() {
    local dir=$WORK/b.$1 t0 t1 t2 i prev dep
    mkdir -p "$dir"
    t0=$(now)
    prev=
    for ((i = 0; i < CHAIN_DEPTH; i++)); do
        dep=()
        [[ -n $prev ]] && dep=(--dependency="afterok:$prev" --kill-on-invalid-dep=yes)
        prev=$(timeout 10 "${SBATCH[@]}" "${dep[@]}" --wrap="touch $dir/$i")
        prev=${prev%%;*}
    done
    t1=$(now)
    wait_files "$dir" "$CHAIN_DEPTH"
    t2=$(now)
    echo "$(secs "$t0" "$t1") $(secs "$t0" "$t2")"
}

row() { # label jobs calls round "submit wall"
    local submit=${5% *} wall=${5#* }
    printf '| %s | %d | %d | %d | %s | %s | %s |\n' "$1" "$2" "$3" "$4" "$submit" "$wall" \
        "$(awk -v w="$wall" -v n="$2" 'BEGIN { printf "%.3f", w / n }')"
}

echo "| case | jobs | sbatch calls | round | submit s | wall s (first submit → last job done) | wall s per job |"
echo "|---|---|---|---|---|---|---|"
for ((r = 1; r <= ROUNDS; r++)); do
    wait_queue_empty
    echo "round $r: (a) $N_INDEPENDENT independent jobs" >&2
    row "(a) independent, one sbatch each" "$N_INDEPENDENT" "$N_INDEPENDENT" "$r" "$(case_independent "$r")"
    wait_queue_empty
    echo "round $r: (a') one array job" >&2
    row "(a') independent, one array job" "$N_INDEPENDENT" 1 "$r" "$(case_array "$r")"
    wait_queue_empty
    echo "round $r: (b) $CHAIN_DEPTH-deep afterok chain" >&2
    row "(b) afterok chain, submitted at once" "$CHAIN_DEPTH" "$CHAIN_DEPTH" "$r" "$(case_chain "$r")"
done
