#!/usr/bin/env bash
# A rate check as a SLURM job array: one cost-balanced shard per array task, each with its own
# checkpoint (a task that is preempted or killed resumes from it when rerun), then one merge.
#
#   sbatch --array=0-15 contrib/slurm-rates.sh cases/gaussian-2305.03288/softmax-gaussian-peer.toml
#   # when every task has finished:
#   moeid rates merge reports/data/gaussian-softmax-gaussian-peer.jsonl shards/gaussian-softmax-gaussian-peer-*.jsonl
#
# moeid reads SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT and SLURM_ARRAY_TASK_MIN itself, so
# `--shard` is not needed here; `moeid rates plan CASE --shards 16` shows what each task runs.
#SBATCH --job-name=moeid-rates
#SBATCH --cpus-per-task=4
#SBATCH --time=02:00:00
#SBATCH --output=shards/%x-%A_%a.log
set -euo pipefail
case_file=${1:?usage: sbatch --array=0-N contrib/slurm-rates.sh CASE [moeid rates options]}
shift
name=$(basename "$case_file" .toml)
mkdir -p shards
export RAYON_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
exec moeid rates "$case_file" "$@" --out "shards/${name}-${SLURM_ARRAY_TASK_ID}.jsonl"
