#!/usr/bin/env bash
# Snakemake 9 + snakemake-executor-plugin-slurm on the test cluster, same cases as
# bench/slurm_floor.sh: (a) 200 independent trivial jobs, (a') the same as array jobs,
# (b) a 50-deep chain. (cluster started first: tests/slurm/cluster.sh start)
#
#   bench/slurm_snakemake.sh [CONFIG...]     CONFIG: sacct-default | squeue-default |
#                                            squeue-a | squeue-array | squeue-b (default: all)
#
# Installs Snakemake into bench/out/smk-venv (git-ignored) on first use. Counts sbatch calls
# through a PATH shim that logs each call. Prints one markdown row per run to stdout; each
# run's full log stays under bench/out/smk-work/<config>/.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/bench/out
VENV=$OUT/smk-venv
SMK_VERSION=9.27.1
PLUGIN_VERSION=2.8.0
N=${N_INDEPENDENT:-200}
DEPTH=${CHAIN_DEPTH:-50}

die() {
    echo "slurm_snakemake.sh: error: $*" >&2
    exit 1
}
timeout 10 scontrol ping 2>/dev/null | grep -q 'is UP' ||
    die "no Slurm controller answers; start the test cluster with tests/slurm/cluster.sh start"

if [[ ! -x $VENV/bin/snakemake ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "snakemake==$SMK_VERSION" \
        "snakemake-executor-plugin-slurm==$PLUGIN_VERSION" || die "pip install failed"
fi

# sbatch shim: logs a timestamp per call, then runs the real sbatch.
SHIM=$OUT/smk-shim
mkdir -p "$SHIM"
REAL_SBATCH=$(command -v sbatch)
cat >"$SHIM/sbatch" <<EOF
#!/usr/bin/env bash
echo "\$EPOCHREALTIME" >>"\$SBATCH_CALL_LOG"
exec $REAL_SBATCH "\$@"
EOF
chmod +x "$SHIM/sbatch"

COMMON=(--executor slurm --jobs "$N" --slurm-no-account
    --default-resources slurm_partition=debug mem_mb=100 runtime=10
    --latency-wait 10 --printshellcmds)

run_case() { # config snakefile extra-config timeout -- snakemake options...
    local name=$1 smk=$2 cfg=$3 limit=$4
    shift 5
    local dir=$OUT/smk-work/$name t0 t1 rc calls first
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$ROOT/bench/slurm_snakemake/$smk" "$dir/Snakefile"
    : >"$dir/sbatch-calls.log"
    echo "snakemake $name: running (limit ${limit}s, log $dir/snakemake.log)" >&2
    t0=$EPOCHREALTIME
    set +e
    (cd "$dir" && PATH="$SHIM:$VENV/bin:$PATH" SBATCH_CALL_LOG="$dir/sbatch-calls.log" \
        timeout -k 15 "$limit" snakemake "${COMMON[@]}" --config "$cfg" "$@" >snakemake.log 2>&1)
    rc=$?
    set -e
    t1=$EPOCHREALTIME
    calls=$(wc -l <"$dir/sbatch-calls.log")
    first=$(head -n 1 "$dir/sbatch-calls.log")
    local wall from_first
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    from_first=$([[ -n $first ]] && awk -v a="$first" -v b="$t1" 'BEGIN { printf "%.1f", b - a }' || echo -)
    local outcome="ok"
    if ((rc == 124 || rc == 137)); then
        outcome="timed out after ${limit}s"
    elif ((rc != 0)); then
        outcome="exit $rc"
    fi
    printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "$*" "$calls" "$wall" "$from_first" "$outcome"
}

CONFIGS=("$@")
((${#CONFIGS[@]})) || CONFIGS=(sacct-default squeue-default squeue-a squeue-array squeue-b)

echo "| run | options beyond the common ones | sbatch calls | wall s (snakemake start → exit) | s from first sbatch → exit | outcome |"
echo "|---|---|---|---|---|---|"
for c in "${CONFIGS[@]}"; do
    case $c in
    # What a user gets out of the box: the plugin finds the sacct binary and uses it.
    sacct-default) run_case "$c" independent.smk "count=4" 300 -- ;;
    squeue-default) run_case "$c" independent.smk "count=$N" 600 -- --slurm-status-command squeue ;;
    squeue-a) run_case "$c" independent.smk "count=$N" 600 -- --slurm-status-command squeue \
        --slurm-init-seconds-before-status-checks 1 --seconds-between-status-checks 1 ;;
    squeue-array) run_case "$c" independent.smk "count=$N" 600 -- --slurm-status-command squeue \
        --slurm-init-seconds-before-status-checks 1 --seconds-between-status-checks 1 \
        --slurm-array-jobs all ;;
    squeue-b) run_case "$c" chain.smk "depth=$DEPTH" 600 -- --slurm-status-command squeue \
        --slurm-init-seconds-before-status-checks 1 --seconds-between-status-checks 1 ;;
    *) die "unknown config '$c'" ;;
    esac
done
