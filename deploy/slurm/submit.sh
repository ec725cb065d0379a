#!/bin/sh
# Queues a sharded lblab sweep on Slurm: the array deploy/slurm/sweep.sbatch, one task per
# shard (--array=1-SHARDS, SHARDS from deploy/sweep.env or the environment), then
# deploy/slurm/merge.sbatch, which starts only if every task succeeded. Run it from the
# directory that holds deploy/ (the repository's root), on a shared file system:
#
#   deploy/slurm/submit.sh
#   SHARDS=16 OUT=sweeps/big deploy/slurm/submit.sh      # settings from the environment
#
# Extra arguments go to both sbatch calls (e.g. --partition=short --account=lab).
set -eu
set -f
env_file=${LBLAB_ENV:-deploy/sweep.env}
case $env_file in
*/*) ;;
*) env_file=./$env_file ;;
esac
# shellcheck source=../sweep.env
. "$env_file"
# The tasks read the settings again; SHARDS is passed on so that they agree with --array.
array=$(sbatch --parsable --array="1-$SHARDS" --export="ALL,SHARDS=$SHARDS" "$@" deploy/slurm/sweep.sbatch)
array=${array%%;*} # --parsable prints JOBID or JOBID;CLUSTER
merge=$(sbatch --parsable --dependency="afterok:$array" "$@" deploy/slurm/merge.sbatch)
merge=${merge%%;*}
echo "lblab sweep: array job $array ($SHARDS shards into $OUT/shard-K), merge job $merge into $OUT/merged"
