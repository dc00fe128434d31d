"""Causal discovery for CIP, in JAX: DirectLiNGAM's causal order, adaptive-lasso edge strengths of
the reward row, and the state and action weights.

X = [s | a | r] [n, d] (a window of replay). DirectLiNGAM (Shimizu et al., 2011) repeatedly
picks the most exogenous remaining variable with the pairwise likelihood-ratio measure of
Hyvarinen and Smith (2013) (maximum-entropy approximations of differential entropy), then
regresses it out of the others. The reward row's edge strengths are an adaptive lasso
(OLS, then an L1 penalty weighted by 1/|beta_OLS|, solved by FISTA over a grid of
lambdas, chosen by BIC) of r on the variables before it in the order. The cheaper variant
(`assume_reward_last=True`) skips the order: every state and action dimension may drive r.

The weights (the paper's): w_s = softmax(B[r, s]) * |S|, w_a = softmax(B[r, a]) * |A|, and
all ones if the reward comes first in the order. Columns of (near) zero variance are
left out of every regression and get no edge, instead of dividing by zero.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

_K1, _K2, _GAMMA = 79.047, 7.4129, 0.37457  # Hyvarinen's maximum-entropy approximation
_EPS = 1e-8


def _logcosh(u: jax.Array) -> jax.Array:
    a = jnp.abs(u)
    return a + jnp.log1p(jnp.exp(-2.0 * a)) - jnp.log(2.0)  # stable for large |u|


def entropy(u: jax.Array) -> jax.Array:
    """Approximate differential entropy of standardised samples u [n] (Hyvarinen, 1998)."""
    return ((1 + jnp.log(2 * jnp.pi)) / 2 - _K1 * (jnp.mean(_logcosh(u)) - _GAMMA) ** 2
            - _K2 * jnp.mean(u * jnp.exp(-(u**2) / 2)) ** 2)


def _standardise(x: jax.Array) -> jax.Array:
    return (x - x.mean(0)) / jnp.maximum(x.std(0), _EPS)


def causal_order(x: jax.Array, valid: jax.Array | None = None) -> jax.Array:
    """DirectLiNGAM's causal order of the columns of x [n, d] ([d] indices, causes first).

    `valid` [d] bool: columns to order (others, e.g. constant ones, are placed last).
    """
    n, d = x.shape
    valid = jnp.ones(d, bool) if valid is None else valid

    def pick(k, carry):
        x, remaining, order = carry
        z = _standardise(x)
        cov = (z.T @ z) / n  # correlations [d, d]
        # residual of i regressed on j, standardised: (z_i - c_ij z_j) / sqrt(1 - c_ij^2)
        scale = jnp.sqrt(jnp.maximum(1 - cov**2, _EPS))
        h = jax.vmap(entropy, in_axes=1)(z)  # [d]
        r_ij = (z[:, :, None] - cov[None] * z[:, None, :]) / scale[None]  # [n, i, j]
        h_r = jax.vmap(jax.vmap(entropy, in_axes=1), in_axes=2)(r_ij).T  # [i, j]
        # likelihood-ratio measure: positive when i -> j is more likely than j -> i
        diff = (h[None, :] + h_r) - (h[:, None] + h_r.T)
        pair = remaining[:, None] & remaining[None, :] & ~jnp.eye(d, dtype=bool)
        score = -jnp.sum(jnp.where(pair, jnp.minimum(0.0, diff) ** 2, 0.0), axis=1)
        m = jnp.argmax(jnp.where(remaining, score, -jnp.inf))
        # regress the chosen variable out of the others
        xm = x[:, m] - x[:, m].mean()
        beta = ((x - x.mean(0)).T @ xm) / jnp.maximum(xm @ xm, _EPS)
        x = jnp.where(remaining[None, :] & (jnp.arange(d) != m)[None, :], x - beta[None, :] * xm[:, None], x)
        return x, remaining.at[m].set(False), order.at[k].set(m)

    count = valid.sum()
    _, remaining, order = jax.lax.fori_loop(0, d, lambda k, c: jax.lax.cond(
        k < count, lambda c: pick(k, c), lambda c: c, c), (x, valid, jnp.zeros(d, jnp.int32)))
    rest = jnp.argsort(jnp.where(valid, d + jnp.arange(d), jnp.arange(d)))  # invalid columns, in index order
    return jnp.where(jnp.arange(d) < count, order, rest[jnp.clip(jnp.arange(d) - count, 0, d - 1)])


# No LAPACK below: under vmapped members XLA:CPU runs a LAPACK call as a batched kernel
# that waits on its own thread pool, and two at once (this module's eigenvalue and
# least-squares calls are independent) hung a 2-core machine for good (gdb, 2026-11-26:
# `lapack_sgesdd_ffi` and `lapack_ssyevd_ffi`, each in `ParallelBatchMap`; see `experiments`).


def _largest_eigenvalue(gram: jax.Array, iterations: int = 100) -> jax.Array:
    """The largest eigenvalue of a symmetric PSD [p, p] matrix by power iteration, with a 1%
    margin so that 1 / it stays a safe FISTA step."""
    v = jnp.linspace(1.0, 2.0, gram.shape[0])

    def body(_, v):
        w = gram @ v
        return w / jnp.maximum(jnp.linalg.norm(w), _EPS)

    v = jax.lax.fori_loop(0, iterations, body, v / jnp.linalg.norm(v))
    return 1.01 * v @ gram @ v


def _solve_spd(a: jax.Array, b: jax.Array) -> jax.Array:
    """x with a x = b, a [p, p] symmetric positive definite: Gauss-Jordan elimination (no
    pivoting needed for SPD), matrix-vector operations only."""
    m = jnp.concatenate([a, b[:, None]], axis=1)

    def body(k, m):
        row = m[k] / m[k, k]
        return (m - jnp.outer(m[:, k], row)).at[k].set(row)

    return jax.lax.fori_loop(0, a.shape[0], body, m)[:, -1]


def _least_squares(X: jax.Array, y: jax.Array, allowed: jax.Array, ridge: float = 1e-6) -> jax.Array:
    """OLS of y on the allowed columns of X [n, p] (others 0), with a tiny ridge against collinearity."""
    n = X.shape[0]
    X = jnp.where(allowed[None, :], X, 0.0)
    gram = X.T @ X + jnp.diag(jnp.where(allowed, ridge * n, 1.0))
    return jnp.where(allowed, _solve_spd(gram, X.T @ y), 0.0)


def _lasso_fista(X: jax.Array, y: jax.Array, penalty: jax.Array, lam: jax.Array, iterations: int,
                 lipschitz: jax.Array) -> jax.Array:
    """argmin 1/(2n) |y - X b|^2 + lam * sum_k penalty_k |b_k| by FISTA (penalty inf: b_k = 0);
    `lipschitz`: an upper bound on the largest eigenvalue of X^T X / n."""
    n = X.shape[0]
    step = 1.0 / jnp.maximum(lipschitz, _EPS)

    def body(_, carry):
        b, z, t = carry
        grad = X.T @ (X @ z - y) / n
        u = z - step * grad
        thresh = step * lam * penalty
        b_new = jnp.sign(u) * jnp.maximum(jnp.abs(u) - thresh, 0.0)
        b_new = jnp.where(jnp.isfinite(penalty), b_new, 0.0)
        t_new = (1 + jnp.sqrt(1 + 4 * t**2)) / 2
        z = b_new + ((t - 1) / t_new) * (b_new - b)
        return b_new, z, t_new

    zero = jnp.zeros(X.shape[1])
    return jax.lax.fori_loop(0, iterations, body, (zero, zero, jnp.ones(())))[0]


def adaptive_lasso(X: jax.Array, y: jax.Array, allowed: jax.Array, num_lambdas: int = 30,
                   iterations: int = 500, units: str = "raw") -> jax.Array:
    """Edge strengths of y on the columns of X [n, p] where `allowed` [p]; lambda chosen by BIC.

    Fitted on standardised columns; with gamma = 1 the adaptive lasso selects the same edges
    whatever the columns' scales. `units="raw"` returns the coefficients in the columns' own units,
    as causal-learn's `predict_adaptive_lasso` (which the CIP code calls) does; `"standardised"`
    returns them per standard deviation of each column (what we ran before 2026-12-03).
    """
    if units not in ("raw", "standardised"):
        raise ValueError(f"units must be 'raw' or 'standardised', got {units!r}")
    n = X.shape[0]
    Xs = jnp.where(allowed[None, :], _standardise(X), 0.0)
    ys = y - y.mean()
    ols = _least_squares(Xs, ys, allowed)
    penalty = jnp.where(allowed, 1.0 / jnp.maximum(jnp.abs(ols), _EPS), jnp.inf)
    top = jnp.max(jnp.where(allowed, jnp.abs(Xs.T @ ys) / n / penalty, 0.0))
    lams = top * jnp.logspace(0, -4, num_lambdas)
    lipschitz = _largest_eigenvalue(Xs.T @ Xs / n)
    coefs = jax.vmap(lambda lam: _lasso_fista(Xs, ys, penalty, lam, iterations, lipschitz))(lams)  # [L, p]
    rss = jnp.sum((ys[None, :] - coefs @ Xs.T) ** 2, axis=1)
    dof = jnp.sum(jnp.abs(coefs) > 1e-8, axis=1)
    bic = n * jnp.log(rss / n + _EPS) + dof * jnp.log(n)
    best = coefs[jnp.argmin(bic)]
    if units == "raw":
        best = jnp.where(allowed, best / jnp.maximum(X.std(0), _EPS), 0.0)
    return best


class CausalWeights(NamedTuple):
    state: jax.Array  # [S] w_s, summing to S
    action: jax.Array  # [A] w_a, summing to A
    reward_row: jax.Array  # [S + A] edge strengths into the reward
    order: jax.Array  # [S + A + 1] causal order (the reward is index S + A)


def reward_weights(states: jax.Array, actions: jax.Array, rewards: jax.Array, assume_reward_last: bool = False,
                   variance_floor: float = 1e-10, units: str = "raw", weights_from: str = "signed") -> CausalWeights:
    """CIP's weights from a window of transitions: states [n, S], actions [n, A], rewards [n].

    w = softmax(B[r, .]) x the dimension count, of the signed strengths (`weights_from="signed"`: the
    paper's and the code's, `utilis/causal_weight.py`, so a strong negative driver weighs less than an
    irrelevant input) or of their magnitudes (`"magnitude"`: softmax(|B[r, .]|)). `units`: see
    `adaptive_lasso`.
    """
    if weights_from not in ("signed", "magnitude"):
        raise ValueError(f"weights_from must be 'signed' or 'magnitude', got {weights_from!r}")
    S, A = states.shape[1], actions.shape[1]
    x = jnp.concatenate([states, actions, rewards[:, None]], axis=1)
    valid = x.var(0) > variance_floor
    d = S + A + 1
    if assume_reward_last:
        order = jnp.arange(d)
    else:
        order = causal_order(x, valid)
    position = jnp.zeros(d, jnp.int32).at[order].set(jnp.arange(d))
    before_reward = (position[: S + A] < position[S + A]) & valid[: S + A]
    row = adaptive_lasso(x[:, : S + A], x[:, S + A], before_reward, units=units)
    reward_first = position[S + A] == 0
    scores = row if weights_from == "signed" else jnp.abs(row)
    w_s = jnp.where(reward_first, jnp.ones(S), jax.nn.softmax(scores[:S]) * S)
    w_a = jnp.where(reward_first, jnp.ones(A), jax.nn.softmax(scores[S:]) * A)
    return CausalWeights(state=w_s, action=w_a, reward_row=row, order=order)
