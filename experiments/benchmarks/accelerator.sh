#!/usr/bin/env bash
# The README's accelerator figures, as one script for a short lease of a GPU machine.
#
#   PYTHON=python3 BUDGET_S=520 bash experiments/benchmarks/accelerator.sh OUT_DIR
#
# Steps run in order of importance, each under its own time limit and all under
# BUDGET_S seconds; a step that fails or runs out of time leaves the others intact.
# Every step appends to OUT_DIR/log.txt and writes its JSON or run files to OUT_DIR
# (flat: at most 8 files, so they fit what a lease sends back):
#   0. pixel observations: frames/s against worlds beside state stepping, and the physics on warp
#      (render.json; issue 29's GPU figure);
#   0b. Meta-World on warp against worlds, beside the bare physics and CPU MuJoCo (metaworld.json;
#      issue 30's GPU figure; needs the metaworld package for the models);
#   1. CIP's causal discovery per call against the updates between two calls (cip_discovery.json);
#   2. raw stepping of CartpoleBalance and CheetahRun at 8,192 and 32,768 envs (env_scaling.json);
#   3. PPO's wall time with 1, 4, 16 vmapped seeds of 2,048 envs (ppo_seeds.json);
#   4. SAC's training throughput vs raw stepping and Brax's SAC (sac.json).
# Brax's trainers run on the jax at hand through brax_peer.py's --shim.
set -u
OUT=${1:?usage: accelerator.sh OUT_DIR}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # the Brax peer runs as a second process on the same GPU
export JAX_COMPILATION_CACHE_DIR=/tmp/jax_cache  # steps share programs (the raw stepping scan)
export XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_triton_gemm_any=True"
deadline=$(( $(date +%s) + ${BUDGET_S:-520} ))

step() {  # step NAME LIMIT_S COMMAND...
  local name=$1 limit=$2; shift 2
  local left=$(( deadline - $(date +%s) ))
  if (( left < 30 )); then echo "== $name: skipped, ${left}s left" | tee -a "$OUT/log.txt"; return; fi
  (( limit > left )) && limit=$left
  echo "== $name (limit ${limit}s) $(date +%T)" | tee -a "$OUT/log.txt"
  timeout "$limit" "$@" 2>&1 | grep --line-buffered -v "Failed to import" | tr '\r' '\n' | grep --line-buffered -v "^ *$" >> "$OUT/log.txt"
  echo "== $name: exit ${PIPESTATUS[0]} $(date +%T)" | tee -a "$OUT/log.txt"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >> "$OUT/log.txt" 2>&1
$PY -c "import jax; print('jax', jax.__version__, jax.devices())" >> "$OUT/log.txt" 2>&1

# 2026-11-26 (H200) measured PPO's throughput row and raw CartpoleBalance stepping at 1-2,048
# envs (no longer run here); what that lease missed follows, at budgets sized from its compile times.
step render 150 $PY -m experiments.benchmarks.render_throughput --tasks WalkerWalk,CheetahRun --worlds 1,64,1024,4096 \
  --size 64 --frame-budget 65536 --warp-physics --warp-physics-max-worlds 4096 --out "$OUT/render.json"

step metaworld 120 $PY -m experiments.benchmarks.metaworld_throughput --tasks mw/basketball,mw/lever-pull \
  --envs 64,1024,4096 --steps 10 --repeats 2 --out "$OUT/metaworld.json"

step cip_discovery 110 $PY -m experiments.benchmarks.cip_discovery --tasks CheetahRun:17:6,hopper:11:3,ReacherHard:6:2 \
  --out "$OUT/cip_discovery.json"

step env_scaling 100 $PY -m experiments.benchmarks.env_throughput --tasks CartpoleBalance,CheetahRun \
  --num-envs 8192,32768 --steps-budget 4000000 --reset-modes full --out "$OUT/env_scaling.json"

step ppo_seeds 130 $PY -m experiments.benchmarks.trainer_throughput --algos ppo --ppo-envs 2048 \
  --seeds 1,4,16 --only-seeds --out "$OUT/ppo_seeds.json"

step sac 150 $PY -m experiments.benchmarks.trainer_throughput --algos sac --sac-envs 8 --sac-steps 10000 \
  --sac-learning-starts 2000 --seeds "" --peer-python "$PY" --peer-shim --out "$OUT/sac.json"

echo "== done $(date +%T)" | tee -a "$OUT/log.txt"
