#!/usr/bin/env bash
# CIP against SAC at a longer budget, as one command for a short lease of a GPU machine.
#
#   PYTHON=python3 TASK=halfcheetah STEPS=300000 METHODS=sac,reward_last_no_augmentation \
#     LIMIT_S=500 bash experiments/cip/gpu.sh OUT_DIR [--config.<key>=<value> ...]
#
# Runs `python -m experiments.cip.main` (3 vmapped seeds per method, the CPU config otherwise)
# under LIMIT_S seconds, then leaves in OUT_DIR what a lease sends back (at most 8 flat
# files): the comparison's table.md, results.json, curves.png and structure.png, the log,
# and runs.tar.gz with every method's config, metrics and evaluation (no checkpoints).
# A method cut short by the limit leaves its metrics so far in runs.tar.gz.
set -u
OUT=${1:?usage: cip_gpu.sh OUT_DIR [--config.<key>=<value> ...]}
shift
mkdir -p "$OUT"
PY=${PYTHON:-python3}
TASK=${TASK:-halfcheetah}
WORK=${WORK:-/tmp/cip_gpu/$TASK}
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader >> "$OUT/log.txt" 2>&1
# Checkpoints every minute, not every chunk: the CPU config's per-chunk saves guard
# against XLA:CPU wedging, which a GPU run does not need, and would cost more than a chunk.
timeout "${LIMIT_S:-500}" "$PY" -m experiments.cip.main --methods="${METHODS:-sac,reward_last_no_augmentation}" \
  --config.task="$TASK" --config.agent.total_env_steps="${STEPS:-300000}" \
  --config.checkpoint_interval_s=60 --config.workdir="$WORK" "$@" 2>&1 \
  | tr '\r' '\n' | grep --line-buffered -v -e "Failed to import" -e "^ *$" -e settotalmass >> "$OUT/log.txt"
echo "exit ${PIPESTATUS[0]}" >> "$OUT/log.txt"
for f in table.md results.json curves.png structure.png; do
  [ -f "$WORK/$f" ] && cp "$WORK/$f" "$OUT/"
done
tar czf "$OUT/runs.tar.gz" --exclude=checkpoints -C "$WORK" . 2>> "$OUT/log.txt"
tail -n 30 "$OUT/log.txt"
