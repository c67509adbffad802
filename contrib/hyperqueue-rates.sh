#!/usr/bin/env bash
# A rate check as HyperQueue tasks (many small tasks inside SLURM or PBS allocations): one task
# per shard, the shard given by MOEID_SHARD, each with its own checkpoint, then one merge.
#
#   contrib/hyperqueue-rates.sh 16 cases/gaussian-2305.03288/softmax-gaussian-peer.toml
#   # when the job has finished:
#   moeid rates merge reports/data/gaussian-softmax-gaussian-peer.jsonl shards/gaussian-softmax-gaussian-peer-*.jsonl
set -euo pipefail
shards=${1:?usage: contrib/hyperqueue-rates.sh SHARDS CASE [moeid rates options]}
case_file=${2:?usage: contrib/hyperqueue-rates.sh SHARDS CASE [moeid rates options]}
shift 2
name=$(basename "$case_file" .toml)
mkdir -p shards
# HQ_TASK_ID runs from 1 to SHARDS with --array=1-SHARDS
hq submit --array "1-${shards}" --cpus 4 -- bash -c \
    "MOEID_SHARD=\${HQ_TASK_ID}/${shards} RAYON_NUM_THREADS=4 exec moeid rates '${case_file}' $* --out shards/${name}-\${HQ_TASK_ID}.jsonl"
