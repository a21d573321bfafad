"""The expected error of a frequency-weighted memory at finite ``d``, modelled (R3a, R4b).

The memory ``W = Σ_x q(x) v_{f(x)} e_xᵀ`` stores weights ``q`` (``p`` itself, or counts of ``T``
samples), inputs ``e_x ~ N(0, I/d)``, outputs ``u_y`` uniform on the unit sphere, targets
``f(x) = x mod M``, and ``v_c = u_c`` or, *centred*, ``v_c = u_c − ū`` (what SGD from ``W₀ = 0``
builds while every logit is near zero: the softmax subtracts the mean output). Given the
outputs' Gram matrix ``G`` (``G̃[y, c] = v_c·u_y``) and ``r = |e_x|²``, the scores of token ``x``
of class ``c`` divided by ``r`` are *exactly* ``G̃ β`` with independent Gaussian

    β_c' = q(x)·[c' = c] + √((Q_c' − q(x)²·[c' = c]) / (d r)) · z_c',
    Q_c' = Σ_{f(x') = c'} q(x')²,

since ``e_x'·e_x`` given ``e_x`` is ``N(0, r/d)`` for every other token. So the error needs no
``N × d`` simulation: for a light token (``q(x)²`` a small share of ``Q_c``) the chance of a correct
top-1 answer is a function ``P_c(t)`` of the signal-to-noise ratio ``t = q(x)·√(d r / Q_c)`` alone,
averaged over Gram matrices and noise on a grid of ``t`` (class ``c`` wins on an interval of ``t``
for each draw); heavy tokens are drawn directly. Then ``r ~ χ²_d/d`` is averaged on quantiles and
the counts ``n_x ~ Binomial(T, p(x))`` exactly (or by a normal approximation above 100 expected
occurrences), with ``Q_c`` at its expectation (its relative spread is ``O(T^−½)``).

The model's own Monte Carlo draws come from a fixed numpy generator, apart from every seed a law
measures. Against the kernel at 1024 draws (exploration seeds) it reproduces the mean error at
every ``d`` within the simulation's standard error, e.g. 0.1832 against 0.1833 ± 0.0022 at
``d = 16`` and 0.0698 against 0.0692 ± 0.0006 at ``d = 512`` (``q = p``, α = 2, ``N = 2000``,
``M = 5``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy import stats

MODEL_SEED = 0  # the model's numpy generator: its draws never meet a law's seeds
GRAM_DRAWS = 512  # output Gram matrices per d
NOISE_DRAWS = 128  # noise vectors per Gram matrix (light tokens, and each heavy token)
NORM_NODES = 16  # quantiles of r = |e_x|² ~ χ²_d / d
HEAVY_SHARE = 0.01  # tokens with E[q²] above this share of their class's Q_c are drawn directly
EXACT_COUNTS = 100  # expected occurrences up to which counts are summed exactly
SNR_GRID = np.concatenate([[0.0], np.geomspace(0.02, 60.0, 120)])  # t, where P_c(t) is tabled
MODEL_ALLOWANCE = 0.025  # what laws comparing a measured slope with this model allow
MODEL_REASON = (
    "the claim is the finite-range slope of the modelled mean error (exact reduction to M "
    "Gaussian scores, averaged by the model's own draws: its slope varies by 0.0004–0.0016 with "
    "the model's seed), which tends to −(α − 1)/(2α) as d grows (a test: local slopes −0.306, "
    "−0.258, −0.254, −0.252 over d = 16…4096 at α = 2). The seed's statistic pools its draws "
    "first, so the mean of log-slopes' bias (+0.011 per single draw at R3a's reference) is "
    "divided by their number. Measured bias of the mean statistic against the model: R3a +0.001 "
    "to +0.006 (64 seeds of 16 draws at α = 1.5, 2, 2.5, M = 2, 10, N = 2·10⁴, T = 10⁶, "
    "d ∈ [8, 512]; at d ∈ [32, 256] +0.014 at 64 seeds, +0.002 at 256); R4b within 0.008 "
    "(64 seeds of 128 draws at the reference, d_max = 128, α = 2.5, M = 2; −0.006 at 256 seeds "
    "of 64 draws, d_max = 128). properties/test_allowances.py keeps these. Allowance 0.025, "
    "three times the largest bias: chosen, not derived, so that "
    "32 seeds at the reference configurations can place the interval inside the band "
    "(half-widths 0.016 for R3a, 0.009 for R4b); it stays below the resolution goal 0.0625"
)


def expected_memory_errors(
    probabilities: np.ndarray,
    n_classes: int,
    dims: Sequence[int],
    n_samples: int | None = None,
    centred: bool = False,
) -> np.ndarray:
    """Modelled ``E[𝓔(d)]`` under ``p`` for each ``d`` of ``dims``: ``q = p`` when ``n_samples``
    is ``None``, else ``q = counts/T`` of ``T = n_samples`` draws; float64 ``[D]``."""
    p = np.asarray(probabilities, dtype=float)
    if p.ndim != 1 or p.size == 0 or np.any(p <= 0) or abs(p.sum() - 1) > 1e-9:
        raise ValueError("probabilities must be a positive vector [N] summing to 1")
    if not isinstance(n_classes, int) or not 1 < n_classes <= p.size:
        raise ValueError(f"n_classes must be an integer in [2, N] = [2, {p.size}]")
    if not dims or any(not isinstance(d, int) or d < 1 for d in dims):
        raise ValueError("dims must be a non-empty list of positive integers")
    if n_samples is not None and (not isinstance(n_samples, int) or n_samples < 1):
        raise ValueError("n_samples must be a positive integer or None")
    return _cached_errors(tuple(p.tolist()), n_classes, tuple(dims), n_samples, centred).copy()


@lru_cache(maxsize=64)
def _cached_errors(
    p_values: tuple[float, ...],
    n_classes: int,
    dims: tuple[int, ...],
    n_samples: int | None,
    centred: bool,
) -> np.ndarray:
    p = np.array(p_values)
    weights = _Weights(p, n_classes, n_samples)
    rng = np.random.default_rng(MODEL_SEED)
    raw_outputs = rng.standard_normal((GRAM_DRAWS, n_classes, max(dims)))
    noise = rng.standard_normal((GRAM_DRAWS, NOISE_DRAWS, n_classes))
    errors = []
    for dim in dims:
        outputs = raw_outputs[:, :, :dim]
        outputs = outputs / np.linalg.norm(outputs, axis=-1, keepdims=True)
        gram = outputs @ outputs.transpose(0, 2, 1)  # [K, M, M]: u_y·u_c
        if centred:
            gram = gram - gram.mean(axis=2, keepdims=True)  # (u_c − ū)·u_y
        norms = stats.chi2.ppf((np.arange(NORM_NODES) + 0.5) / NORM_NODES, dim) / dim  # [R]
        error = 0.0
        for c in range(n_classes):
            relative = np.sqrt(weights.second_moments / weights.second_moments[c])  # [M]
            correct = _correct_by_snr(gram, noise * relative, c)  # [len(SNR_GRID)]
            error += weights.light_error(c, dim, norms, correct)
            for x in weights.heavy_tokens(c):
                error += p[x] * _heavy_error(x, c, dim, gram, noise, weights, rng)
        errors.append(error)
    return np.array(errors)


class _Weights:
    """The stored weights' law: ``E[q²]`` per class and which tokens are light or heavy."""

    def __init__(self, p: np.ndarray, n_classes: int, n_samples: int | None) -> None:
        self.p, self.n_samples = p, n_samples
        self.classes = np.arange(p.size) % n_classes
        self.squares = p**2 + (p * (1 - p) / n_samples if n_samples else 0.0)  # E[q²]
        self.second_moments = np.bincount(self.classes, self.squares, minlength=n_classes)  # Q_c
        self.heavy = self.squares > HEAVY_SHARE * self.second_moments[self.classes]

    def heavy_tokens(self, c: int) -> np.ndarray:
        return np.nonzero(self.heavy & (self.classes == c))[0]

    def light_error(self, c: int, dim: int, norms: np.ndarray, correct: np.ndarray) -> float:
        """``Σ p(x)(1 − P(correct))`` over the light tokens of class ``c``."""
        light = ~self.heavy & (self.classes == c)
        p = self.p[light]
        scale = np.sqrt(dim * norms / self.second_moments[c])  # t per unit q, each r: [R]

        def chance(q: np.ndarray) -> np.ndarray:  # P(correct) at weights q [...], r averaged
            return np.interp(q[..., None] * scale, SNR_GRID, correct).mean(-1)

        if not self.n_samples:
            return float(np.sum(p * (1 - chance(p))))
        total, expected = 0.0, self.n_samples * p
        few = expected <= EXACT_COUNTS
        if few.any():
            counts = np.arange(int(min(self.n_samples, 3 * EXACT_COUNTS)) + 1)
            pmf = stats.binom.pmf(counts[None, :], self.n_samples, p[few][:, None])  # [F, n]
            total += float(np.sum(p[few] * (1 - pmf @ chance(counts / self.n_samples))))
        if (~few).any():
            nodes, node_weights = np.polynomial.hermite_e.hermegauss(9)
            mean, spread = expected[~few], np.sqrt(expected[~few] * (1 - p[~few]))
            q = np.maximum(mean[:, None] + spread[:, None] * nodes, 0) / self.n_samples
            total += float(np.sum(p[~few] * (1 - chance(q) @ (node_weights / node_weights.sum()))))
        return total


def _correct_by_snr(gram: np.ndarray, noise: np.ndarray, c: int) -> np.ndarray:
    """``P(argmax_y (t G̃[:, c] + G̃ z)_y = c)`` on ``SNR_GRID``, over the Gram matrices ``[K, M, M]``
    and noise ``[K, Z, M]`` (already scaled by each class's relative spread)."""
    scores = noise @ gram.transpose(0, 2, 1)  # [K, Z, M]: (G̃ z)_y
    # c beats y iff t·slope_y > gap_y
    slope = (gram[:, c, c, None] - gram[:, :, c])[:, None, :]  # [K, 1, M]
    gap = scores - scores[..., c : c + 1]
    slope = np.broadcast_to(slope, gap.shape)
    others = np.arange(gram.shape[1]) != c
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = gap / slope
    low = np.where((slope > 0) & others, bound, -np.inf).max(-1).ravel()
    high = np.where((slope < 0) & others, bound, np.inf).min(-1).ravel()
    never = ((slope == 0) & others & (gap >= 0)).any(-1).ravel()
    keep = ~never & (low <= high)
    low, high = np.sort(low[keep]), np.sort(high[keep])
    wins = np.searchsorted(low, SNR_GRID, "right") - np.searchsorted(high, SNR_GRID, "left")
    return wins / gap.shape[0] / gap.shape[1]


def _heavy_error(
    x: int,
    c: int,
    dim: int,
    gram: np.ndarray,
    noise: np.ndarray,
    weights: _Weights,
    rng: np.random.Generator,
) -> float:
    """``P(wrong)`` for one heavy token ``x`` of class ``c``, drawn directly: its own class's
    noise leaves ``x`` out, ``r`` and its count are drawn with the noise."""
    shape = noise.shape[:2]
    norms = rng.chisquare(dim, shape) / dim
    if weights.n_samples:
        q = rng.binomial(weights.n_samples, weights.p[x], shape) / weights.n_samples
    else:
        q = np.full(shape, weights.p[x])
    variances = weights.second_moments.copy()
    variances[c] = max(variances[c] - weights.squares[x], 0.0)
    beta = noise * np.sqrt(variances / (dim * norms[..., None]))
    beta[..., c] += q
    scores = beta @ gram.transpose(0, 2, 1)
    return float(np.mean(scores.argmax(-1) != c))
