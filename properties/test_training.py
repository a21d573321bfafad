"""Properties of the trainers: the batched fast trainer follows the one-run autograd reference
step by step, batching changes no number, a seed fixes everything, bad input is refused; and
the update approximation of law R4 has the limits the paper states.

Tolerance of the equivalence (float64): per-step errors must be identical, final parameters
equal within 1e-6 of the parameter's largest entry. The two trainers round differently (sums in
another order, gradients by hand versus autograd, a batch folded into counts); float64 rounding
(~1e-16) is amplified at most by layer norm's ``1/s`` (up to 1e3 when ``h ≈ 0``) and by Adam's
``g / (|g| + 1e-8)`` where ``|g|`` is near ``1e-8``: the largest gap seen over thousands of
configurations was about 1e-8, most are below 1e-12.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from memlaws.kernel import optimizers, sample_counts, training, zipf_probabilities
from memlaws.kernel.data import modular_targets, sample_tokens
from memlaws.kernel.memory import population_error, readout
from memlaws.kernel.models import Dense, Hidden
from memlaws.kernel.reference_training import train_reference
from memlaws.kernel.setup import (
    INITS,
    MODELS,
    OPTIMIZERS,
    TrainingSetup,
    initial_parameters,
    initial_weights,
)
from memlaws.kernel.training import train
from memlaws.kernel.update_approximation import (
    approximate_weight_curves,
    approximate_weights,
    update_map,
)

RELATIVE_TOLERANCE = 1e-6
COMBINATIONS = [
    (model, optimizer, layernorm, init)
    for model, optimizer, layernorm, init in itertools.product(
        MODELS, OPTIMIZERS, (False, True), INITS
    )
    if model != "exponential" or init == "random"
]


def assert_same_trajectory(fast, index: tuple[int, int], reference) -> None:
    """Run ``index`` (seed, step size) of ``fast`` against a reference run: per-step errors
    identical, final parameters within the module's tolerance."""
    i, j = index
    assert fast.steps == reference.steps
    assert torch.equal(fast.curves[i, j], reference.curves[0, 0])
    assert set(fast.params) == set(reference.params)
    for name, expected in reference.params.items():
        scale = float(expected.abs().max()) or 1.0
        gap = float((fast.params[name][i, j] - expected[0, 0]).abs().max())
        assert gap <= RELATIVE_TOLERANCE * scale, f"{name}: gap {gap:.3g}, scale {scale:.3g}"


def finite(result) -> bool:
    return all(bool(torch.isfinite(value).all()) for value in result.params.values())


@pytest.mark.parametrize("batch_size", [4, 16], ids=["gathered", "folded"])
@pytest.mark.parametrize(("model", "optimizer", "layernorm", "init"), COMBINATIONS)
def test_fast_trainer_follows_the_reference(model, optimizer, layernorm, init, batch_size):
    """Every shared combination, with batches smaller and larger than N (folded into counts);
    for the matrix model under SGD this covers the rank-M path (no layer norm, or ``W₀ = 0``)
    and the dense fallback (layer norm from a random ``W₀``)."""
    setup = TrainingSetup(
        model, optimizer, 12, 3, 5, 1.5, 20 * batch_size, batch_size, layernorm=layernorm, init=init
    )
    lrs = [0.3, 1.2]
    fast = train(setup, 7, lrs, dtype=torch.float64, record_every=1, return_params=True)
    for j, lr in enumerate(lrs):
        reference = train_reference(setup, 7, lr, dtype=torch.float64, record_every=1)
        assert finite(reference)
        assert_same_trajectory(fast, (0, j), reference)


@pytest.mark.parametrize("betas", [(0.0, 0.0), (0.9, 0.999)])
@pytest.mark.parametrize(("model", "layernorm"), [("matrix", False), ("learnable", True)])
def test_adam_in_blocks_of_rows_follows_the_reference(monkeypatch, model, layernorm, betas):
    """Adam forms a product gradient a block of rows at a time: blocks of 2, 2 and 1 rows."""
    monkeypatch.setattr(optimizers, "CHUNK_ELEMENTS", 12)
    setup = TrainingSetup(model, "adam", 12, 3, 5, 1.5, 60, 4, layernorm=layernorm, betas=betas)
    fast = train(setup, 3, [0.7], dtype=torch.float64, record_every=1, return_params=True)
    assert_same_trajectory(
        fast, (0, 0), train_reference(setup, 3, 0.7, dtype=torch.float64, record_every=1)
    )


def trained_model(kind: type, setup: TrainingSetup, seeds: list[int], lrs: list[float]):
    """A model of class ``kind`` (``memlaws.kernel.models.Hidden``, ``Dense``, ...) after every
    step of ``setup``, in float32, replicas ``seed × lr`` as in ``train``."""
    params = initial_parameters(setup, seeds)
    params = {name: value.repeat_interleave(len(lrs), dim=0) for name, value in params.items()}
    optimizer = optimizers.Optimizer(setup, torch.tensor(lrs).repeat(len(seeds)), setup.dim)
    model = kind(setup, params, optimizer)
    p = zipf_probabilities(setup.n_tokens, setup.alpha)
    tokens = torch.stack([sample_tokens(p, setup.n_samples, seed) for seed in seeds])
    labels = modular_targets(setup.n_tokens, setup.n_classes)
    tokens = tokens.repeat_interleave(len(lrs), dim=0)
    batches = training._Batches(setup, tokens, labels, torch.float32)
    with training.intra_op_threads(1):  # as train runs a shard
        for t in range(setup.niter):
            model.step(batches.at(t), 1.0)
    return model, population_error(readout(model.scores()), labels, p)


@pytest.mark.parametrize("batch_size", [8, 64], ids=["gathered", "folded"])
def test_hidden_vectors_round_close_to_the_dense_product(batch_size):
    """Matrix SGD with layer norm from a random ``W₀`` moves ``H = E W`` (``N × d``), not ``W``:
    in float32 it rounds otherwise than the dense ``E W``. After 200 steps at ``γ ∈ {0.1, 1,
    10}`` the two stay within 1e-4 of ``H``'s largest entry (one rounding is 6e-8 of it), and
    no population error differs."""
    setup = TrainingSetup(
        "matrix", "sgd", 40, 5, 24, 1.5, 200 * batch_size, batch_size, layernorm=True
    )
    hidden, errors = trained_model(Hidden, setup, [3, 4], [0.1, 1.0, 10.0])
    dense, dense_errors = trained_model(Dense, setup, [3, 4], [0.1, 1.0, 10.0])
    expected = dense.inputs @ dense.memory
    assert float((hidden.hidden - expected).abs().max()) <= 1e-4 * float(expected.abs().max())
    assert torch.equal(errors, dense_errors)


@st.composite
def setups(draw: st.DrawFn, max_steps: int = 20) -> TrainingSetup:
    """Small setups over every option the two trainers share. Adam's betas keep ``β₁² ≤ β₂``:
    otherwise ``m̂ / √v̂`` is unbounded (``β₂ = 0 < β₁`` divides momentum by the last ``|g|``) and
    rounding differences of 1e-16 grow without bound, whichever trainer is right."""
    model, optimizer, layernorm, init = draw(st.sampled_from(COMBINATIONS))
    n_tokens = draw(st.integers(1, 16))
    batch_size = draw(st.sampled_from([1, 3, 8, 24]))
    niter = draw(st.integers(1, max_steps))
    schedule = draw(st.sampled_from(["constant", "step", "cosine"]))
    decay = {}
    if schedule == "step":
        decay = {
            "decay_step": draw(st.integers(0, niter)),
            "decay_factor": draw(st.sampled_from([0.0, 0.1, 0.5])),
        }
    betas = (0.0, 0.0)
    if optimizer == "adam":
        betas = draw(st.sampled_from([(0.0, 0.0), (0.9, 0.999), (0.5, 0.5), (0.0, 0.9)]))
    return TrainingSetup(
        model,
        optimizer,
        n_tokens,
        draw(st.integers(1, min(n_tokens, 5))),
        draw(st.integers(1, 8)),
        draw(st.floats(0.5, 3.0)),
        niter * batch_size,
        batch_size,
        layernorm=layernorm,
        init=init,
        outputs=draw(st.sampled_from(["gaussian", "sphere"])),
        schedule=schedule,
        betas=betas,
        weight_decay=draw(st.sampled_from([0.0, 0.05])),
        dim_scaled_adam=draw(st.booleans()),
        **decay,
    )


@given(setups(), st.integers(0, 10**6), st.floats(0.0, 2.0))
def test_fast_trainer_follows_the_reference_on_any_setup(setup, seed, lr):
    """Schedules, Adam with momentum, weight decay, both output draws, any sizes."""
    reference = train_reference(setup, seed, lr, dtype=torch.float64, record_every=1)
    assume(finite(reference))  # a diverged run has no trajectory to compare
    fast = train(setup, seed, [lr], dtype=torch.float64, record_every=1, return_params=True)
    assert_same_trajectory(fast, (0, 0), reference)


@given(setups(max_steps=8), st.lists(st.integers(0, 10**6), min_size=1, max_size=3, unique=True))
def test_batching_seeds_and_step_sizes_changes_nothing(setup, seeds):
    lrs = [0.1, 1.0]
    together = train(setup, seeds, lrs, dtype=torch.float64, record_every=2, return_params=True)
    assert together.errors.shape == (len(seeds), len(lrs))
    assert together.curves.shape == (len(seeds), len(lrs), len(together.steps))
    for (i, seed), (j, lr) in itertools.product(enumerate(seeds), enumerate(lrs)):
        alone = train(setup, seed, lr, dtype=torch.float64, record_every=2, return_params=True)
        assert torch.equal(together.curves[i, j], alone.curves[0, 0])
        for name, value in alone.params.items():  # reductions may round with the batch shape
            gap = float((together.params[name][i, j] - value[0, 0]).abs().max())
            assert gap <= 1e-10 * (float(value.abs().max()) or 1.0)


@given(setups(max_steps=8), st.integers(0, 10**6))
def test_same_seed_same_numbers_and_errors_are_probabilities(setup, seed):
    first = train(setup, seed, [0.5, 5.0], record_every=3)
    second = train(setup, seed, [0.5, 5.0], record_every=3)
    assert torch.equal(first.errors, second.errors) and torch.equal(first.curves, second.curves)
    assert first.errors.dtype == torch.float64 and first.niter == setup.niter
    assert bool(((first.curves >= 0) & (first.curves <= 1 + 1e-12)).all())
    assert first.steps[0] == 0 and first.steps[-1] == setup.niter
    assert torch.equal(first.curves[..., -1], first.errors)


@st.composite
def batches_with_repeats(draw) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Flat rows ``[R, K]`` of ``R`` replicas' blocks of ``N`` tokens (drawn from few tokens, so
    most batches repeat some), float values ``[R, K, d]`` and a starting table ``[R·N, d]``."""
    n_replicas, n_tokens = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    n_rows, dim = draw(st.integers(1, 12)), draw(st.integers(1, 5))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 10**6)))
    tokens = torch.randint(0, n_tokens, (n_replicas, n_rows), generator=generator)
    rows = tokens + n_tokens * torch.arange(n_replicas)[:, None]
    values = torch.randn(n_replicas, n_rows, dim, generator=generator)
    table = torch.randn(n_replicas * n_tokens, dim, generator=generator)
    return rows, values, table


@given(batches_with_repeats(), st.sampled_from([1.0, -1.0, 0.5]))
def test_summed_repeats_add_the_batch_once_per_row(batch, alpha):
    """Off the CPU, ``add_rows_`` adds each row's summed repeats: on integers (sums exact in any
    order) the same table as ``index_add_`` of the plain values, with zeros at the repeats."""
    rows, values, table = batch
    values, table = values.mul(8).round(), table.mul(8).round()
    plain = table.clone().index_add_(0, rows.flatten(), values.flatten(0, 1), alpha=alpha)
    summed = optimizers.summed_repeats(rows, values)
    once = table.clone().index_add_(0, rows.flatten(), summed.flatten(0, 1), alpha=alpha)
    assert torch.equal(once, plain)
    first = torch.zeros_like(rows, dtype=torch.bool)  # each row's first place in its batch
    for r, k in itertools.product(*map(range, rows.shape)):
        first[r, k] = rows[r, k] not in rows[r, :k]
    assert bool((summed[~first] == 0).all())


@given(batches_with_repeats(), st.data())
def test_summed_repeats_add_up_alike_in_any_order(batch, data):
    """What a device's atomic adds do: apply a batch's adds in any order. With its repeats summed
    first (``summed_repeats``), every order gives the same bits; the plain values need not (the
    check can fail: orders of three or more repeated values are seen to differ)."""
    rows, values, table = batch
    summed = optimizers.summed_repeats(rows, values).flatten(0, 1)
    index, order = rows.flatten(), data.draw(st.permutations(range(rows.numel())))

    def in_order(source: torch.Tensor, positions) -> torch.Tensor:
        result = table.clone()
        for i in positions:
            result[index[i]] += source[i]
        return result

    assert torch.equal(in_order(summed, order), in_order(summed, range(rows.numel())))


def test_plain_repeats_add_up_otherwise_in_another_order():
    """The contrast the check above rests on: three values at one row, summed in two orders,
    round differently, while their summed repeats do not."""
    rows = torch.zeros(1, 3, dtype=torch.long)
    values = torch.tensor([[[1.0], [1e-8], [-1.0]]])
    table = torch.zeros(1, 1)
    other = torch.tensor([0, 2, 1])

    def added(source: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        return table.clone().index_add_(0, rows.flatten()[order], source[order])

    plain, summed = values.flatten(0, 1), optimizers.summed_repeats(rows, values).flatten(0, 1)
    in_order = torch.arange(3)
    assert not torch.equal(added(plain, in_order), added(plain, other))  # (1 + 1e-8) − 1 = 0,
    assert torch.equal(added(summed, in_order), added(summed, other))  # (1 − 1) + 1e-8 = 1e-8


def _same_run(first, second) -> bool:
    """Identical errors, curves and final parameters (a diverged run's NaNs included)."""
    same = torch.equal(first.errors, second.errors)
    if first.curves is not None:
        same &= torch.equal(first.curves, second.curves)
    for name, value in first.params.items():
        same &= torch.allclose(value, second.params[name], rtol=0, atol=0, equal_nan=True)
    return bool(same)


@given(
    setups(max_steps=12),
    st.integers(0, 10**6),
    st.integers(1, 6),
    st.sampled_from([0, 1, 3, 5]),
)
def test_step_chunks_change_no_number(setup, seed, graph_steps, record_every):
    """Steps run a chunk at a time on static copies of their batches (the path a CUDA graph
    replays) give the step-by-step numbers bit for bit, records falling inside chunks or not."""
    assume(training.graphable(setup))
    options = {"record_every": record_every, "return_params": True}
    plain = train(setup, seed, [0.5, 5.0], **options)
    chunked = train(setup, seed, [0.5, 5.0], graph_steps=graph_steps, **options)
    assert _same_run(plain, chunked)


@given(setups(max_steps=12), st.integers(0, 10**6), st.data())
def test_checkpoints_are_the_runs_on_fewer_tokens(setup, seed, data):
    """Under a schedule that does not depend on ``niter``, the errors and divergence at step
    ``t`` are those of the same setup trained on the first ``t·B`` tokens, bit for bit."""
    assume(setup.schedule != "cosine")
    steps = [*data.draw(st.lists(st.integers(1, setup.niter), max_size=3)), setup.niter]
    longer = train(setup, seed, [0.5, 50.0], checkpoints=steps)
    assert sorted(longer.checkpoints) == sorted(set(steps))
    assert longer.checkpoints[setup.niter][0].equal(longer.errors)
    for step in steps:
        shorter_setup = dataclasses.replace(setup, n_samples=step * setup.batch_size)
        shorter = train(shorter_setup, seed, [0.5, 50.0])
        errors, diverged = longer.checkpoints[step]
        assert torch.equal(errors, shorter.errors) and torch.equal(diverged, shorter.diverged)


def test_final_parameters_have_the_documented_shapes():
    setup = TrainingSetup("learnable", "adam", 10, 4, 2, 2.0, 40, 8)
    params = train(setup, [0, 1], [0.1, 0.2, 0.3], return_params=True).params
    assert params["E"].shape == (2, 3, 10, 2)
    assert params["W"].shape == (2, 3, 2, 2)
    assert params["U"].shape == (2, 3, 2, 4)
    exponential = TrainingSetup("exponential", "sgd", 10, 4, 2, 2.0, 40, 8)
    assert set(train(exponential, 0, 1.0, return_params=True).params) == {"E", "U"}


@given(st.integers(1, 150), st.integers(1, 150), st.integers(0, 10**6))
def test_initial_memories_are_nested_across_dimensions(small, large, seed):
    """``W₀`` entries are ``N(0, 1/d)`` drawn once per seed: ``W₀`` at ``d`` is the top-left
    block of ``W₀`` at ``d' > d`` (common random numbers across ``d``, like the embeddings)."""
    small, large = sorted((small, large))
    setup = TrainingSetup("matrix", "sgd", 200, 5, small, 1.0, 8, 8)
    w_small = initial_parameters(setup, seed)["W"][0] * math.sqrt(small)
    w_large = initial_weights(seed, large)[0] * math.sqrt(large)
    assert torch.allclose(w_small, w_large[:small, :small], rtol=1e-5, atol=1e-6)
    assert not torch.equal(initial_weights(seed, small), initial_weights(seed + 1, small))


def test_initial_memory_is_normal_with_variance_one_over_d():
    entries = initial_weights([0, 1], 300).flatten() * math.sqrt(300)
    assert abs(float(entries.mean())) < 0.01 and abs(float(entries.std()) - 1) < 0.01


def test_user_targets_are_used():
    setup = TrainingSetup("learnable", "adam", 8, 3, 4, 1.0, 64, 8)
    labels = torch.tensor([2, 2, 0, 1, 1, 0, 2, 1])
    fast = train(setup, 0, 0.5, targets=labels, dtype=torch.float64, record_every=1)
    reference = train_reference(setup, 0, 0.5, targets=labels, dtype=torch.float64, record_every=1)
    assert torch.equal(fast.curves, reference.curves)
    assert not torch.equal(
        fast.curves, train(setup, 0, 0.5, dtype=torch.float64, record_every=1).curves
    )


def _setup(**changes: object) -> TrainingSetup:
    fields = {
        "model": "matrix",
        "optimizer": "sgd",
        "n_tokens": 10,
        "n_classes": 2,
        "dim": 4,
        "alpha": 1.0,
        "n_samples": 20,
        "batch_size": 4,
    }
    return TrainingSetup(**(fields | changes))


BAD_INPUTS = [
    ("n_samples", lambda: _setup(n_samples=22)),
    ("model", lambda: _setup(model="transformer")),
    ("optimizer", lambda: _setup(optimizer="SGD")),
    ("schedule", lambda: _setup(schedule="linear")),
    ("init", lambda: _setup(init="ones")),
    ("init", lambda: _setup(model="exponential", init="zero")),
    ("outputs", lambda: _setup(outputs="cube")),
    ("n_tokens", lambda: _setup(n_tokens=0)),
    ("n_classes", lambda: _setup(n_classes=0)),
    ("n_classes", lambda: _setup(n_classes=11)),
    ("dim", lambda: _setup(dim=0)),
    ("n_samples", lambda: _setup(n_samples=-4)),
    ("batch_size", lambda: _setup(batch_size=0)),
    ("alpha", lambda: _setup(alpha=0.0)),
    ("layernorm", lambda: _setup(layernorm=1)),
    ("betas", lambda: _setup(betas=(0.9, 0.9))),
    ("betas[1]", lambda: _setup(optimizer="adam", betas=(0.9, 1.0))),
    ("decay_step", lambda: _setup(decay_step=3)),
    ("decay_factor", lambda: _setup(schedule="step", decay_factor=-0.5)),
    ("weight_decay", lambda: _setup(weight_decay=-1.0)),
    ("lrs[1]", lambda: train(_setup(), 0, [1.0, -0.1])),
    ("lrs", lambda: train(_setup(), 0, [])),
    ("seeds[0]", lambda: train(_setup(), [-1], 1.0)),
    ("record_every", lambda: train(_setup(), 0, 1.0, record_every=-1)),
    ("graph_steps", lambda: train(_setup(), 0, 1.0, graph_steps=-1)),
    ("checkpoints[1]", lambda: train(_setup(), 0, 1.0, checkpoints=[2, 6])),
    ("checkpoints", lambda: train(_setup(), 0, 1.0, checkpoints=3)),
    ("graph_steps", lambda: train(_setup(schedule="cosine"), 0, 1.0, graph_steps=2)),
    ("targets", lambda: train(_setup(), 0, 1.0, targets=torch.zeros(9, dtype=torch.int64))),
    ("lr", lambda: train_reference(_setup(), 0, -1.0)),
    ("gamma", lambda: approximate_weights(zipf_probabilities(5, 1.0), 10, 0, 2, -1.0)),
    ("n_samples", lambda: approximate_weights(zipf_probabilities(5, 1.0), 10, 0, 2, 1.0, 3)),
    ("batch_size", lambda: approximate_weights(zipf_probabilities(5, 1.0), 10, 0, 2, 1.0, 0)),
]


@pytest.mark.parametrize(("argument", "call"), BAD_INPUTS, ids=[a for a, _ in BAD_INPUTS])
def test_bad_input_raises_naming_the_argument(argument, call):
    with pytest.raises(ValueError, match=rf"^{re.escape(argument)}\s"):
        call()


# The update approximation (law R4).


def iterated(gamma: float, n_classes: int, count: int) -> float:
    q = torch.zeros((), dtype=torch.float64)
    for _ in range(count):
        q = update_map(q, gamma, n_classes)
    return float(q)


@given(st.integers(1, 40), st.integers(2, 8), st.floats(1e-3, 30.0), st.integers(0, 10**6))
def test_one_token_per_step_iterates_the_update_map(n_tokens, n_classes, gamma, seed):
    """With ``B = 1``, ``q_T(x) = φ_γ^{n_x}(0)``: increasing in ``n_x``."""
    p = zipf_probabilities(n_tokens, 1.2)
    q = approximate_weights(p, 200, seed, n_classes, gamma)[0]
    counts = sample_counts(p, 200, seed)[0, 0]
    table = {int(n): iterated(gamma, n_classes, int(n)) for n in counts.unique()}
    assert q.tolist() == pytest.approx([table[int(n)] for n in counts], rel=1e-12, abs=0)
    levels = [table[n] for n in sorted(table)]
    assert all(a < b for a, b in itertools.pairwise(levels))


@given(st.integers(2, 30), st.integers(2, 8), st.integers(1, 4), st.integers(0, 10**6))
def test_tiny_steps_store_the_counts(n_tokens, n_classes, batch_size, seed):
    """Small ``γ``: ``q_T ≈ γ·n_x·(M−1)/M / B`` (the first update is ``γ/(1 + 1/(M−1))``)."""
    gamma = 1e-7
    p = zipf_probabilities(n_tokens, 1.0)
    q = approximate_weights(p, 240, seed, n_classes, gamma, batch_size)[0]
    counts = sample_counts(p, 240, seed)[0, 0].to(torch.float64)
    linear = gamma * counts * (n_classes - 1) / n_classes / batch_size
    assert torch.allclose(q, linear, rtol=1e-4, atol=0)


def test_one_batch_of_everything_is_linear_in_the_counts():
    p = zipf_probabilities(20, 1.5)
    q = approximate_weights(p, 300, 4, 5, 50.0, batch_size=300)[0]
    counts = sample_counts(p, 300, 4)[0, 0].to(torch.float64)
    assert torch.allclose(q, counts * 50.0 / 300 * 4 / 5, rtol=1e-12, atol=0)


@pytest.mark.parametrize("gamma", [2.0, 10.0])
def test_large_steps_saturate_and_grow_like_a_log(gamma):
    """Once ``e^q ≫ γ``, ``e^{q_n}`` grows by about ``γ(M−1)`` per occurrence: ``q`` gains
    ``log 2`` each time the count doubles, far below the ``γ·n`` of small steps."""
    steps, q = approximate_weight_curves(zipf_probabilities(1, 1.0), 16000, 0, 5, gamma, 1, 2000)
    assert steps == list(range(0, 16001, 2000))
    single = q[0, :, 0]
    for n in (4000, 8000):
        gain = float(single[steps.index(2 * n)] - single[steps.index(n)])
        assert gain == pytest.approx(math.log(2), rel=0.03)
    assert float(single[-1]) < math.log(gamma * 4 * 16000) + 1 < gamma * 16000


def test_curves_follow_the_trainer_steps():
    p = zipf_probabilities(30, 2.0)
    steps, q = approximate_weight_curves(p, 1000, [0, 1, 2], 5, 1.0, 100, 3)
    setup = TrainingSetup("matrix", "sgd", 30, 5, 8, 2.0, 1000, 100, init="zero", outputs="sphere")
    assert steps == train(setup, 0, 1.0, record_every=3).steps == [0, 3, 6, 9, 10]
    assert q.shape == (3, 5, 30) and q.dtype == torch.float64
    assert bool((q[:, 0] == 0).all()) and bool((q[:, 1:] >= q[:, :-1]).all())
    assert torch.equal(q[:, -1], approximate_weights(p, 1000, [0, 1, 2], 5, 1.0, 100))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(("model", "optimizer", "layernorm", "init"), COMBINATIONS)
def test_cuda_follows_the_cpu(model, optimizer, layernorm, init):
    setup = TrainingSetup(model, optimizer, 50, 5, 16, 2.0, 640, 32, layernorm=layernorm, init=init)
    options = {"dtype": torch.float64, "record_every": 4, "return_params": True}
    runs = {d: train(setup, [0, 1], [0.5, 2.0], device=d, **options) for d in ("cpu", "cuda")}
    assert torch.equal(runs["cpu"].curves, runs["cuda"].curves)
    for name, value in runs["cpu"].params.items():
        gap = float((runs["cuda"].params[name] - value).abs().max())
        assert gap <= RELATIVE_TOLERANCE * float(value.abs().max())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("graph_steps", [None, 0], ids=["graphs", "eager"])
@pytest.mark.parametrize(("model", "optimizer", "layernorm", "init"), COMBINATIONS)
def test_cuda_same_seed_same_numbers(model, optimizer, layernorm, init, graph_steps):
    """A seed fixes every number on CUDA too, in float32: batches of 16 Zipf tokens repeat rows,
    whose sums ``index_add_``'s atomic adds would order otherwise from run to run
    (``memlaws.kernel.optimizers.add_rows_``)."""
    setup = TrainingSetup(
        model, optimizer, 100, 5, 64, 2.0, 200 * 16, 16, layernorm=layernorm, init=init
    )
    options = {"device": "cuda", "record_every": 40, "return_params": True}
    options |= {"graph_steps": graph_steps}
    first, second = (train(setup, [0, 1, 2], [0.5, 2.0], **options) for _ in range(2))
    assert _same_run(first, second)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("batch_size", [16, 256], ids=["gathered", "folded"])
@pytest.mark.parametrize(("model", "optimizer", "layernorm", "init"), COMBINATIONS)
def test_cuda_graphs_replay_the_eager_steps(model, optimizer, layernorm, init, batch_size):
    """The default on CUDA (chunks of ``GRAPH_STEPS`` steps captured as CUDA graphs) against
    the same steps launched one by one, with records inside and between chunks."""
    setup = TrainingSetup(
        model, optimizer, 100, 5, 64, 2.0, 200 * batch_size, batch_size, layernorm=layernorm,
        init=init,
    )  # fmt: skip
    options = {"device": "cuda", "dtype": torch.float64, "record_every": 40, "return_params": True}
    graphed = train(setup, [0, 1], [0.5, 2.0], **options)
    eager = train(setup, [0, 1], [0.5, 2.0], graph_steps=0, **options)
    assert torch.equal(graphed.curves, eager.curves)
    for name, value in eager.params.items():
        gap = float((graphed.params[name] - value).nan_to_num().abs().max())
        assert gap <= RELATIVE_TOLERANCE * float(value.nan_to_num().abs().max())


def test_overflowing_runs_are_flagged_diverged():
    """Learnable SGD at γ = 10 overflows (its error, 0.3586, is the readout of NaN scores)."""
    setup = TrainingSetup("learnable", "sgd", 100, 5, 100, 2.0, 10240, 16)
    result = train(setup, [0, 1], [0.1, 10.0])
    assert result.diverged.tolist() == [[False, True], [False, True]]
    assert bool(train_reference(setup, 0, 10.0).diverged)
