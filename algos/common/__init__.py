"""The parts every agent shares, one module each, passed to the agents explicitly.

- `loop`: the `Learner` contract and the chunked `lax.scan` skeleton;
- `offpolicy`: the collect / replay / update iteration SAC, DDPG and their descendants share;
- `replay`: flashbax's trajectory buffer on the device;
- `returns`: GAE, n-step and lambda returns (bootstrapping on time-outs, not terminations);
- `networks`: MLPs, actors, critics, the DrQ-v2 trunk, a LAPACK-free orthogonal initialiser;
- `optim`: Adam with the learning rate outside the chain (so it can be a vmapped leaf), Polyak;
- `hparams`: numeric hyperparameters as pytree leaves;
- `evaluation`: deterministic episodes under `vmap`.
"""
