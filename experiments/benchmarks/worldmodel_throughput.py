"""World-model training throughput: our RSSM against the AIME reference (PyTorch), side by side.

Both train the reference's `rssmo` world model (deterministic 512 + stochastic 30, 512
hidden, LayerNorm, swish, 2 x 512 MLP encoder and decoder, free nats 1, KL balancing 0.8)
on the paper's batch shape (50 windows of 50 steps) with Adam and gradient clipping,
at the walker's MDP dimensions (24 observation dims in three sensors, 6 actions).
Throughput is sequence-batches per second, compilation excluded. Ours samples each
batch from a dataset on the device inside the jitted chunk; the reference trains on
random tensors already in memory (its data loader is not timed).

The reference runs in its own Python with PyTorch (never a dependency of this project):

    python -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch==2.13.0 numpy einops
    git -C <aime clone> archive HEAD aime | tar -x -C /tmp/aime_ref
    python -m experiments.benchmarks.worldmodel_throughput \\
        --reference_python=/tmp/torchvenv/bin/python --reference_src=/tmp/aime_ref

Two reference variants are timed: as configured (`idm_mode: detach` also trains an
inverse model in phase 1, and each sensor has its own decoder), and without the inverse
model. Without `--reference_python` only ours is timed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import textwrap
import time

import jax
import jax.numpy as jnp

from envs import sequences
from worldmodels import rssm, training

SENSORS = {"orientations": 14, "height": 1, "velocity": 9}  # dm_control walker
ACTION_DIM = 6

# Runs in the reference's Python: builds its RSSMO from its own classes and times training steps.
REFERENCE_SCRIPT = textwrap.dedent('''
    import json, sys, time, types
    import torch
    sys.path.insert(0, sys.argv[1])
    # the reference imports torchvision only for its image encoder; the state model does not use it
    tv = types.ModuleType("torchvision"); tv.transforms = types.SimpleNamespace(Resize=lambda *a, **k: None)
    sys.modules["torchvision"] = tv
    from aime.data import ArrayDict
    from aime.models.ssm import RSSMO
    sensors, action_dim, batch, length, steps, idm = json.loads(sys.argv[2])
    torch.set_num_threads(int(sys.argv[3]))
    mlp = dict(name="mlp", hidden_size=512, hidden_layers=2, hidden_activation="swish", norm="ln", have_head=False)
    dmlp = dict(name="dmlp", hidden_size=512, hidden_layers=2, hidden_activation="swish", norm="ln")
    model = RSSMO(input_config=[(k, d, dict(mlp)) for k, d in sensors.items()],
                  output_config=[(k, d, dict(dmlp)) for k, d in sensors.items()], action_dim=action_dim,
                  state_dim=[512, 30], probe_config=[], hidden_size=512, hidden_layers=2, norm="ln",
                  kl_scale=1.0, free_nats=1.0, kl_rebalance=0.8, nll_reweight="none",
                  idm_mode="detach" if idm else "none", min_std=0.1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    obs = ArrayDict({k: torch.randn(length, batch, d) for k, d in sensors.items()})
    actions = torch.rand(length, batch, action_dim) * 2 - 1
    def step():
        _, _, loss, _ = model(ArrayDict({k: v for k, v in obs.items()}), actions)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 100.0)
        opt.step()
    for _ in range(2):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    print(json.dumps({"batches_per_s": steps / (time.perf_counter() - t0)}))
''')


def ours(batch: int, length: int, updates: int) -> float:
    obs_dim = sum(SENSORS.values())
    c = training.default_config()
    c.batch_size, c.seq_len = batch, length
    model = rssm.make_rssm(c.model, (obs_dim,), ACTION_DIM)
    k = jax.random.PRNGKey(0)
    data = sequences.Sequences(jax.random.normal(k, (20, 201, obs_dim)),
                              jax.random.uniform(k, (20, 201, ACTION_DIM), minval=-1, maxval=1),
                              jnp.full((20,), 200))
    chunk = jax.jit(training.make_chunk(model, c, data, updates))
    state = training.init(model, c, k)
    state, _ = chunk(state, k)  # compile
    jax.block_until_ready(state)
    t0 = time.perf_counter()
    state, _ = chunk(state, k)
    jax.block_until_ready(state)
    return updates / (time.perf_counter() - t0)


def reference(python: str, src: str, batch: int, length: int, steps: int, idm: bool, threads: int) -> float:
    args = json.dumps([SENSORS, ACTION_DIM, batch, length, steps, idm])
    out = subprocess.run([python, "-c", REFERENCE_SCRIPT, src, args, str(threads)], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"the reference run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["batches_per_s"]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--length", type=int, default=50)
    p.add_argument("--updates", type=int, default=20)
    p.add_argument("--reference_python", default="")
    p.add_argument("--reference_src", default="")
    p.add_argument("--threads", type=int, default=2, help="PyTorch intra-op threads (match the cores)")
    a = p.parse_args(argv)
    rows = {"ours (JAX, jit)": ours(a.batch, a.length, a.updates)}
    if a.reference_python:
        rows["reference, as configured (with its phase-1 IDM)"] = reference(
            a.reference_python, a.reference_src, a.batch, a.length, a.updates, True, a.threads)
        rows["reference, without the IDM"] = reference(
            a.reference_python, a.reference_src, a.batch, a.length, a.updates, False, a.threads)
    device = jax.devices()[0]
    print(f"world-model training, batch {a.batch} x {a.length} steps, rssmo (512 + 30), "
          f"walker MDP dims; device: {device.platform} ({device.device_kind})")
    base = rows["ours (JAX, jit)"]
    for name, rate in rows.items():
        print(f"  {name:52s} {rate:8.2f} batches/s   ours / this = {base / rate:5.2f}x")


if __name__ == "__main__":
    main()
