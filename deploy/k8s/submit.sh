#!/bin/sh
# Runs a sharded lblab sweep on Kubernetes (kubectl's current context and namespace), from
# the directory that holds deploy/ (the repository's root):
#
#   deploy/k8s/submit.sh
#
# It puts deploy/run-shard.sh, the settings (deploy/sweep.env) and the scenario file in the
# ConfigMap lblab-sweep, deletes the Jobs of an earlier run (not their results), applies
# deploy/k8s/sweep-job.yaml, waits for every shard, starts the merge and prints its log
# (the sweep's table). The results stay on the volume lblab-results, in $OUT/merged.
set -eu
set -f
env_file=${LBLAB_ENV:-deploy/sweep.env}
case $env_file in
*/*) ;;
*) env_file=./$env_file ;;
esac
# shellcheck source=../sweep.env
. "$env_file"
[ -f "$SCENARIO" ] || {
    echo "submit.sh: SCENARIO=$SCENARIO is not a file: the pods get the scenario as a file" >&2
    exit 2
}
kubectl create configmap lblab-sweep \
    --from-file=run-shard.sh=deploy/run-shard.sh \
    --from-file=sweep.env="$env_file" \
    --from-file=scenario.toml="$SCENARIO" \
    --dry-run=client -o yaml | kubectl apply -f -
# Waits until Job $1 is complete (status 0) or has failed (status 1).
wait_job() {
    while :; do
        state=$(kubectl get job "$1" -o 'jsonpath={.status.conditions[?(@.status=="True")].type}')
        case " $state " in
        *" Complete "*) return 0 ;;
        *" Failed "*)
            echo "submit.sh: job $1 failed; see kubectl describe job $1 and kubectl logs job/$1" >&2
            return 1
            ;;
        esac
        sleep 10
    done
}
kubectl delete job lblab-sweep lblab-merge --ignore-not-found
kubectl apply -f deploy/k8s/sweep-job.yaml
wait_job lblab-sweep
kubectl patch job lblab-merge --type=merge -p '{"spec":{"suspend":false}}'
status=0
wait_job lblab-merge || status=$?
kubectl logs job/lblab-merge
exit "$status"
