#!/bin/sh
# Runs one shard of an lblab sweep, or merges the shards. The Slurm scripts
# (deploy/slurm/) and the Kubernetes Jobs (deploy/k8s/) call it; so can you:
#
#   deploy/run-shard.sh shard K   run shard K of $SHARDS (1 ≤ K ≤ SHARDS) into $OUT/shard-K
#   deploy/run-shard.sh shard     the same, K from the scheduler: SLURM_ARRAY_TASK_ID (an
#                                 array --array=1-SHARDS) or JOB_COMPLETION_INDEX + 1 (a
#                                 Kubernetes Indexed Job counts from 0)
#   deploy/run-shard.sh merge     merge $OUT/shard-* into $OUT/merged (lblab merge checks
#                                 that no shard is missing, given twice or unfinished)
#
# The settings come from the environment, then from $LBLAB_ENV (default: sweep.env beside
# this script) for what the environment leaves unset. A shard always runs with --resume:
# rerun after a failure or preemption, it keeps the points it had finished (and refuses a
# directory that holds a different sweep: change OUT, or delete it, to start over).
set -eu
# No file name globbing: a --param such as classes[0].keys.zipf=0.6,0.9 stays as written.
set -f

die() {
    echo "run-shard.sh: $*" >&2
    exit 2
}

env_file=${LBLAB_ENV:-$(dirname "$0")/sweep.env}
case $env_file in
*/*) ;;
*) env_file=./$env_file ;; # `.` would search PATH for a bare name
esac
[ -r "$env_file" ] || die "cannot read the settings $env_file (set LBLAB_ENV)"
# shellcheck source=sweep.env
. "$env_file"

case ${1:-} in
shard)
    k=${2:-}
    if [ -z "$k" ]; then
        if [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
            k=$SLURM_ARRAY_TASK_ID
        elif [ -n "${JOB_COMPLETION_INDEX:-}" ]; then
            k=$((JOB_COMPLETION_INDEX + 1))
        else
            die "which shard? give K, or run as a Slurm array task or a Kubernetes Indexed Job"
        fi
    fi
    case $k$SHARDS in
    '' | *[!0-9]*) die "shard $k of $SHARDS: both must be whole numbers" ;;
    esac
    [ "$k" -ge 1 ] && [ "$k" -le "$SHARDS" ] ||
        die "shard $k is not in 1..$SHARDS (SHARDS=$SHARDS; a Slurm array must be 1-$SHARDS)"
    jobs=${JOBS:-${SLURM_CPUS_PER_TASK:-}}
    set -- sweep "$SCENARIO"
    for p in $PARAMS; do set -- "$@" --param "$p"; done
    [ -z "$ALGORITHMS" ] || set -- "$@" --algorithms "$ALGORITHMS"
    for s in $SETS; do set -- "$@" --set "$s"; done
    [ -z "$REPLICATIONS" ] || set -- "$@" --replications "$REPLICATIONS"
    [ -z "$SEED" ] || set -- "$@" --seed "$SEED"
    [ -z "$jobs" ] || set -- "$@" --jobs "$jobs"
    set -- "$@" --shard "$k/$SHARDS" --resume --quiet --out "$OUT/shard-$k"
    echo "run-shard.sh: $LBLAB $*" >&2
    exec "$LBLAB" "$@"
    ;;
merge)
    set +f
    set -- "$OUT"/shard-*
    [ -d "$1" ] || die "no shard directories in $OUT (expected $OUT/shard-1 ...)"
    echo "run-shard.sh: $LBLAB merge $* --out $OUT/merged" >&2
    exec "$LBLAB" merge "$@" --out "$OUT/merged"
    ;;
*)
    die "usage: run-shard.sh shard [K] | run-shard.sh merge"
    ;;
esac
