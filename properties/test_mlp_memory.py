"""The linear and MLP associative memories of ``memlaws.kernel.mlp_memory`` against independent
oracles: torch.autograd for the hand-written gradients, ``torch.optim.Adam`` for the training
loop, a loop over facts and outputs for the retrieval count, a memory that provably stores its
facts (independent inputs, ``N ≤ d``) for training to capacity, and a load-by-load scan for the
capacity search."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from memlaws.kernel.mlp_memory import (
    BETAS,
    EPSILON,
    Facts,
    capacity,
    fact_targets,
    initial_parameters,
    loss_and_gradients,
    parameter_count,
    random_facts,
    retrieval_accuracy,
    stores,
    train_memory,
)

SEEDS = [3, 4]


def double(facts: Facts) -> Facts:
    return Facts(facts.inputs.double(), facts.outputs.double(), facts.targets)


def forward_by_autograd(params: dict[str, torch.Tensor], facts: Facts) -> torch.Tensor:
    """The summed per-replica cross-entropy, written with torch's own cross_entropy."""
    total = torch.zeros((), dtype=torch.float64)
    for r in range(facts.targets.shape[0]):
        if "V" in params:
            features = torch.relu(facts.inputs[r] @ params["W"][r].T) @ params["V"][r].T
        else:
            features = facts.inputs[r] @ params["W"][r].T
        logits = features @ facts.outputs[r].T
        total = total + torch.nn.functional.cross_entropy(logits, facts.targets[r])
    return total


@pytest.mark.parametrize("width", [0, 7])
def test_hand_written_gradients_match_autograd(width):
    facts = double(random_facts(SEEDS, 9, 5, 4))
    params = {k: v.double() for k, v in initial_parameters(SEEDS, 4, width).items()}
    generator = torch.Generator().manual_seed(0)
    params = {
        k: v + 0.3 * torch.randn(v.shape, generator=generator, dtype=v.dtype)
        for k, v in params.items()
    }
    loss, grads = loss_and_gradients(params, facts)
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    reference = forward_by_autograd(leaves, facts)
    reference.backward()
    assert loss.sum().item() == pytest.approx(reference.item(), rel=1e-12)
    assert set(grads) == set(leaves)
    for name, leaf in leaves.items():
        torch.testing.assert_close(grads[name], leaf.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("width", [0, 6])
def test_training_follows_torch_adam(width):
    """Facts it cannot store (40 facts in d = 3) so no replica stops early: after 25 steps the
    parameters are torch.optim.Adam's on the summed loss (replicas are independent)."""
    facts = double(random_facts(SEEDS, 40, 8, 3))
    start = {k: v.double() for k, v in initial_parameters(SEEDS, 3, width).items()}
    trained, reached = train_memory(start, facts, steps=25, lr=0.05)
    assert not reached.any()
    leaves = {k: v.clone().requires_grad_(True) for k, v in start.items()}
    optimiser = torch.optim.Adam(list(leaves.values()), lr=0.05, betas=BETAS, eps=EPSILON)
    for _ in range(25):
        optimiser.zero_grad()
        forward_by_autograd(leaves, facts).backward()
        optimiser.step()
    for name, leaf in leaves.items():
        torch.testing.assert_close(trained[name], leaf.detach(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("width", [0, 5])
def test_retrieval_accuracy_matches_a_loop_over_facts_and_outputs(width):
    facts = random_facts(SEEDS, 30, 6, 4)
    generator = torch.Generator().manual_seed(1)
    params = {
        k: torch.randn(v.shape, generator=generator)
        for k, v in initial_parameters(SEEDS, 4, width).items()
    }
    inputs, outputs = facts.inputs.double().numpy(), facts.outputs.double().numpy()
    w = params["W"].double().numpy()
    expected = []
    for r in range(len(SEEDS)):
        found = 0
        for x in range(30):
            hidden = [
                sum(w[r, i, j] * inputs[r, x, j] for j in range(4)) for i in range(w.shape[1])
            ]
            if width:
                v = params["V"].double().numpy()
                relu = [max(h, 0.0) for h in hidden]
                hidden = [sum(v[r, i, j] * relu[j] for j in range(width)) for i in range(4)]
            values = [sum(outputs[r, y, i] * hidden[i] for i in range(4)) for y in range(6)]
            found += int(np.argmax(values) == facts.targets[r, x].item())
        expected.append(found / 30)
    np.testing.assert_allclose(retrieval_accuracy(params, facts).numpy(), expected)


def test_independent_inputs_are_always_stored_by_the_linear_memory():
    """N ≤ d linearly independent inputs (orthonormal here, and Gaussian a.s.) admit W with
    W e_x = u_{f*(x)}: training must reach 100 % (a known-capacity case)."""
    dim, n_facts = 8, 8
    inputs = torch.eye(dim)[None]
    facts = Facts(inputs, torch.eye(dim)[None, :5], fact_targets([0], n_facts, 5))
    _, reached = train_memory(initial_parameters([0], dim), facts, 300, 0.1, level=1.0)
    assert reached.all()
    assert stores(list(range(10)), dim, 32, dim, 0, 300, 0.2, level=1.0).all()
    assert (capacity(list(range(4)), dim, 32, dim, 0, 300, 0.2) >= dim).all()


@pytest.mark.parametrize("patience", [1, 2])
def test_capacity_without_refinement_matches_a_load_by_load_scan(patience):
    """The coarse capacity: the last load stored before ``patience`` failures in a row."""
    seeds = [11, 12, 13]
    found = capacity(seeds, 4, 16, 4, 0, 150, 0.2, refinements=0, patience=patience)
    for i, seed in enumerate(seeds):
        last, misses, previous, step = math.nan, 0, 0, 0
        while misses < patience:  # a seed at a time, load by load
            load = round(4 * 2 ** (step / 2))
            step += 1
            if load == previous:
                continue
            previous = load
            if stores([seed], load, 16, 4, 0, 150, 0.2).item():
                last, misses = load, 0
            else:
                misses += 1
        assert found[i].item() == last or (math.isnan(last) and math.isnan(found[i].item()))


def test_refined_capacity_is_stored_and_inside_the_coarse_bracket():
    seeds = [21, 22, 23]
    coarse = capacity(seeds, 4, 16, 4, 0, 150, 0.2, refinements=0)
    fine = capacity(seeds, 4, 16, 4, 0, 150, 0.2, refinements=2)
    assert ((coarse <= fine) & (fine < coarse * math.sqrt(2) * 1.1)).all()
    for seed, load in zip(seeds, fine.tolist(), strict=True):
        assert stores([seed], int(load), 16, 4, 0, 150, 0.2).item()


def test_a_seed_fixes_every_draw_and_fact_sets_are_nested():
    first, again = random_facts([5, 6], 20, 7, 6), random_facts([5, 6], 20, 7, 6)
    for a, b in zip(
        (first.inputs, first.outputs, first.targets),
        (again.inputs, again.outputs, again.targets),
        strict=True,
    ):
        torch.testing.assert_close(a, b)
    longer = random_facts([5, 6], 50, 7, 6)
    torch.testing.assert_close(longer.targets[:, :20], first.targets)
    torch.testing.assert_close(longer.inputs[:, :20], first.inputs)
    assert not torch.equal(first.targets[0], first.targets[1])
    assert first.targets.min() >= 0 and first.targets.max() < 7
    w = initial_parameters([5, 6], 6, 12)["W"]
    torch.testing.assert_close(initial_parameters([5, 6], 6, 12)["W"], w)
    assert w.std().item() == pytest.approx(1 / math.sqrt(6), rel=0.25)


def test_parameter_counts():
    assert parameter_count(8) == 64 and parameter_count(8, 16) == 256


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: fact_targets([0], 0, 4), "N"),
        (lambda: fact_targets([0], 3, 0), "M"),
        (lambda: initial_parameters([0], 4, -1), "width"),
        (
            lambda: train_memory(initial_parameters([0], 2), random_facts([0], 3, 2, 2), 5, 0.0),
            "lr",
        ),
        (
            lambda: train_memory(initial_parameters([0], 2), random_facts([0], 3, 2, 2), -1, 0.1),
            "steps",
        ),
        (
            lambda: train_memory(
                initial_parameters([0], 2), random_facts([0], 3, 2, 2), 5, 0.1, level=1.5
            ),
            "level",
        ),
        (lambda: capacity([0], 0, 4, 2, 0, 5, 0.1), "start"),
        (lambda: capacity([0], 2, 4, 2, 0, 5, 0.1, refinements=-1), "refinements"),
        (lambda: capacity([0], 2, 4, 2, 0, 5, 0.1, patience=0), "patience"),
    ],
)
def test_bad_arguments_are_named(call, name):
    with pytest.raises(ValueError, match=name):
        call()
