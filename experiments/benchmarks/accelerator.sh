#!/usr/bin/env bash
# The README's accelerator figures, as one script for a short lease of a GPU machine.
#
#   PYTHON=python3 BUDGET_S=520 bash experiments/benchmarks/accelerator.sh OUT_DIR
#
# Steps run in order of importance, each under its own time limit and all under
# BUDGET_S seconds; a step that fails or runs out of time leaves the others intact.
# Every step appends to OUT_DIR/log.txt and writes its JSON or run files to OUT_DIR
# (flat: at most 8 files, so they fit what a lease sends back):
#   1. raw stepping rate of CartpoleBalance, 1 to 32,768 envs (env_cartpole.json);
#   2. PPO training throughput at 2,048 envs vs raw stepping and vs Brax's PPO,
#      and the wall time with 1, 4, 16 vmapped seeds (ppo.json);
#   3. the same for SAC, with the CPU table's settings (sac.json);
#   4. PPO on PendulumSwingup, Playground's tuned settings and budget, 3 vmapped
#      seeds (pendulum_*.{parquet,json});
#   5. raw stepping rate of CheetahRun, 2,048 and 8,192 envs (env_cheetah.json).
# Brax's trainers run on the jax at hand through brax_peer.py's --shim.
set -u
OUT=${1:?usage: accelerator.sh OUT_DIR}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # the Brax peer runs as a second process on the same GPU
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

step env_cartpole 90 $PY -m experiments.benchmarks.env_throughput --tasks CartpoleBalance \
  --num-envs 1,256,2048,8192,32768 --steps-budget 4000000 --reset-modes full --out "$OUT/env_cartpole.json"

step ppo 150 $PY -m experiments.benchmarks.trainer_throughput --algos ppo --ppo-envs 2048 --ppo-steps 10000000 \
  --seeds 1,4,16 --peer-python "$PY" --peer-shim --out "$OUT/ppo.json"

step sac 120 $PY -m experiments.benchmarks.trainer_throughput --algos sac --sac-envs 8 --sac-steps 30000 \
  --sac-learning-starts 5000 --seeds 1,4,16 --peer-python "$PY" --peer-shim --out "$OUT/sac.json"

step ppo_pendulum 150 $PY -m experiments.run --config=experiments/configs/ppo.py --config.task=PendulumSwingup \
  --config.num_seeds=3 --config.env.num_envs=2048 --config.env.action_repeat=4 --config.agent.rollout_length=30 \
  --config.agent.num_minibatches=32 --config.agent.update_epochs=4 --config.agent.reward_scaling=10 \
  --config.agent.gamma=0.995 --config.agent.entropy_coef=0.01 --config.agent.total_env_steps=15000000 \
  --config.chunk_iterations=10 --config.workdir=/tmp/ppo_pendulum
for f in metrics.parquet summary.json; do cp /tmp/ppo_pendulum/$f "$OUT/pendulum_$f" 2>/dev/null; done

step env_cheetah 60 $PY -m experiments.benchmarks.env_throughput --tasks CheetahRun --num-envs 2048,8192 \
  --steps-budget 1000000 --reset-modes full --out "$OUT/env_cheetah.json"
echo "== done $(date +%T)" | tee -a "$OUT/log.txt"
