"""Section 5 of the paper: memories built by optimisation (R5a–R5e, R6a, R6b).

Every law here is a paired comparison over seeds: within a seed, the compared runs share their
embeddings, initial memory and data (``memlaws.kernel.training.train``), so the per-seed difference
isolates the effect claimed. Unless a law says otherwise the setting is the paper's reference
one (reference-setting.md): N = 100, M = 5, α = 2, the matrix model, random W₀, Gaussian U.

The regions (each law's ``parameters``) were found from an exploratory sweep over the paper's
grid with seeds 0–9, and are stated against the overflow boundary of the fill scheme
(R3b): for this setting d*_fill ≈ 16 at T = 1024 and ≈ 32 at T = 10240. They are checked on
the report's seeds and, out of sample, by the calibration's disjoint seed sets.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from memlaws.kernel import expected_memoriser_error, zipf_probabilities
from memlaws.theory.law import Config, Law, Measurement, Parameter, Prediction
from memlaws.theory.profiles import tuning_seeds
from memlaws.theory.setting import REFERENCE, fixed
from memlaws.theory.shapes import VISIBLE_ERROR, Ordering, paired, row_slopes, run

PAPER_STEPS = (0.1, 1.0, 10.0, 100.0)
PAPER_BATCHES = (16, 64, 256, 1024)


class StepSize(Ordering):
    spec = "R5a"
    source = "Section 5 (step size)"
    statement = "At fixed T and batch size, SGD's error decreases as the step size γ grows."
    statistic = "−(slope of the error against log10 γ over γ ∈ {0.1, 1, 10, 100}), per seed"
    claim = "error falls as γ grows"
    rival_name = "error rises with γ"
    variable = "γ"
    domain = (
        "away from overflow: d ≥ 2·d*_fill(T) (d ≥ 64 here), B = 16. In overflow (d = 10 < "
        "d*_fill) the error at γ = 100 exceeds that at γ = 10 (large steps act like the fill "
        "scheme), though the fitted slope over the four steps stays negative"
    )
    parameters = {
        **REFERENCE,
        "d": Parameter(64, 256, 100, "log_int", "dimension"),
        "B": fixed(16, "batch size"),
        "niter": Parameter(64, 640, 640, "log_int", "number of steps (T = niter·B)"),
    }
    beyond = ({"d": 20}, {"d": 10}, {"d": 10, "niter": 64})
    minimum_effect = VISIBLE_ERROR / 3  # per decade of γ, over the 3 decades compared

    def measure(self, config: Config, seeds: Sequence[int], device: str = "cpu") -> Measurement:
        errors = run(config, seeds, PAPER_STEPS, device)
        x = np.log10(PAPER_STEPS)
        return Measurement(
            -row_slopes(x, errors),
            np.array(PAPER_STEPS),
            errors,
            "γ",
            "error",
            scales=("log", "linear"),
        )


class BatchSize(Ordering):
    spec = "R5b"
    source = "Section 5 (batch size)"
    statement = "At fixed T and step size, smaller batches give lower error."
    statistic = "slope of the error against log2 B over B ∈ {16, 64, 256, 1024}, per seed"
    claim = "error grows with B"
    rival_name = "error falls with B"
    variable = "B"
    domain = "away from overflow: d ≥ 2·d*_fill(T) (d ≥ 64 here), T = 10240, γ ∈ [1, 10]"
    parameters = {
        **REFERENCE,
        "d": Parameter(64, 256, 100, "log_int", "dimension"),
        "T": fixed(10240, "number of samples"),
        "lr": Parameter(1.0, 10.0, 10.0, "float", "step size γ"),
    }
    beyond = ({"d": 20}, {"d": 10}, {"lr": 0.1})
    minimum_effect = VISIBLE_ERROR / 6  # per doubling of B, over the 6 doublings compared

    def measure(self, config: Config, seeds: Sequence[int], device: str = "cpu") -> Measurement:
        errors = np.stack(
            [
                run(config, seeds, [config["lr"]], device, batch_size=b, ntrain=config["T"])[:, 0]
                for b in PAPER_BATCHES
            ],
            axis=1,
        )
        x = np.log2(PAPER_BATCHES)
        return Measurement(
            row_slopes(x, errors),
            np.array(PAPER_BATCHES),
            errors,
            "B",
            "error",
            scales=("log", "linear"),
        )


class AdamAgainstSGD(Ordering):
    spec = "R5c"
    source = "Section 5 (Adam, β₁ = β₂ = 0)"
    statement = "With step sizes tuned per configuration, Adam's error is below SGD's."
    statistic = (
        "𝓔_SGD(γ*_SGD) − 𝓔_Adam(γ*_Adam), per seed; each γ* minimises the mean error over "
        "γ ∈ {0.1, 1, 10, 100} on a disjoint set of tuning seeds"
    )
    claim = "Adam below SGD"
    rival_name = "SGD at or below Adam"
    variable = "optimizer"
    domain = (
        "large batches, B ≥ 256 (few steps: SGD's averaged updates are p̂-like, R4); with B = 16 "
        "and γ = 100, SGD matches or beats Adam in the reference setting"
    )
    parameters = {
        **REFERENCE,
        "d": Parameter(50, 200, 100, "log_int", "dimension"),
        "B": Parameter(256, 1024, 1024, "log_int", "batch size"),
        "T": fixed(10240, "number of samples"),
    }

    beyond = ({"B": 64}, {"B": 16})

    def check_admissible(self, config: Config) -> None:
        if config["T"] % config["B"]:
            raise ValueError("T must be a multiple of B")

    def _tuned(self, config: Config, seeds: Sequence[int], device: str, optimizer: str):
        tuning = tuning_seeds(list(seeds))
        common = {"optimizer": optimizer, "ntrain": config["T"]}
        best = PAPER_STEPS[int(run(config, tuning, PAPER_STEPS, device, **common).mean(0).argmin())]
        return run(config, seeds, [best], device, **common)[:, 0], best

    def measure(self, config: Config, seeds: Sequence[int], device: str = "cpu") -> Measurement:
        sgd, sgd_lr = self._tuned(config, seeds, device, "SGD")
        adam, adam_lr = self._tuned(config, seeds, device, "Adam")
        return paired(sgd, adam, "optimizer", (f"SGD γ={sgd_lr:g}", f"Adam γ={adam_lr:g}"))


class LayerNorm(Ordering):
    spec = "R5d"
    source = "Section 5 (layer norm)"
    statement = "Normalising W e_x before the readout lowers SGD's error at a fixed step size."
    statistic = "𝓔(no layer norm) − 𝓔(layer norm), per seed, same γ"
    claim = "layer norm lowers the error"
    rival_name = "layer norm does not help"
    variable = "layernorm"
    domain = (
        "moderate steps γ ∈ [0.1, 1] with B = 16, T = 10240, d ≥ 50; at γ = 100 layer norm "
        "raises SGD's error in the reference setting (bounded associations cannot keep up)"
    )
    parameters = {
        **REFERENCE,
        "d": Parameter(50, 200, 100, "log_int", "dimension"),
        "B": fixed(16, "batch size"),
        "niter": fixed(640, "number of steps"),
        "lr": Parameter(0.1, 1.0, 1.0, "float", "step size γ"),
    }
    beyond = ({"lr": 10.0}, {"lr": 100.0}, {"d": 10})

    def measure(self, config: Config, seeds: Sequence[int], device: str = "cpu") -> Measurement:
        plain = run(config, seeds, [config["lr"]], device)[:, 0]
        normed = run(config, seeds, [config["lr"]], device, layernorm=True)[:, 0]
        return paired(plain, normed, "layer norm", ("off", "on"))


class Schedule(Ordering):
    spec = "R5e"
    source = "Section 5, submitted version only (step-size schedule)"
    statement = (
        "Once the memory overflows, a decaying step (γ = 10, then 0.3 from step 100) beats a "
        "large constant step (γ = 10). An open claim: reported whichever way it goes."
    )
    statistic = "𝓔(constant γ = 10) − 𝓔(γ = 10 then 0.3), per seed, after all steps"
    claim = "the decaying step is better"
    rival_name = "the constant step is at least as good"
    variable = "schedule"
    domain = (
        "the submitted version's setting: N = 10, M = 5, d = 5 (overflow: N > d), α = 1.5, B = 1, "
        "1000 steps of SGD from W₀ = 0 with unit-norm u"
    )
    open_claim = True
    open_reason = (
        "the submitted version said so and the final version dropped the figure: the claim is "
        "put on trial, not confirmed, and is reported whichever way it goes"
    )
    seconds_per_seed = 0.003
    large_step, later_step, decay_step = 10.0, 0.3, 100
    parameters = {
        "N": Parameter(10, 20, 10, "int", "number of tokens"),
        "M": fixed(5, "number of classes"),
        "alpha": fixed(1.5, "Zipf exponent α"),
        "d": Parameter(5, 10, 5, "int", "dimension"),
        "niter": fixed(1000, "number of steps (B = 1)"),
    }
    beyond = ({"d": 10}, {"N": 20}, {"N": 20, "d": 10})

    def measure(self, config: Config, seeds: Sequence[int], device: str = "cpu") -> Measurement:
        start = {"init": "zero", "outputs": "sphere"}
        steps = [self.large_step]
        constant = run(config, seeds, steps, device, start, batch_size=1)[:, 0]
        decaying = run(config, seeds, steps, device, start | self.decay(), batch_size=1)[:, 0]
        return paired(constant, decaying, "schedule", ("constant γ = 10", "γ = 10 then 0.3"))

    def decay(self) -> dict[str, object]:
        """The decaying schedule's kernel options: ``large_step`` until ``decay_step``, then
        ``later_step``."""
        factor = self.later_step / self.large_step
        return {"schedule": "step", "decay_step": self.decay_step, "decay_factor": factor}


LEARNED_DIMS = (10, 20, 50)


class LearnedEmbeddings(Ordering):
    spec = "R6a"
    source = "Section 5 (learned embeddings)"
    statement = (
        "At every d, learning the embeddings (E, W, U) gives a far lower error than learning W "
        "alone, with the same data, optimiser and step."
    )
    statistic = "min over d ∈ {10, 20, 50} of 𝓔(W only) − 𝓔(E, W, U learned), per seed"
    claim = "learned embeddings lower at every d"
    rival_name = "W alone at least as good at some d"
    variable = "d"
    domain = "Adam (β = 0) with γ ∈ [0.1, 1], B = 16, T = 10240; SGD with γ = 10 diverges"
    parameters = {
        **REFERENCE,
        "lr": Parameter(0.1, 1.0, 0.1, "float", "Adam step size γ"),
        "B": fixed(16, "batch size"),
        "niter": fixed(640, "number of steps"),
    }
    beyond = ({"lr": 10.0}, {"niter": 64})
    seconds_per_seed = 0.05

    def measure(self, config: Config, seeds: Sequence[int], device: str = "cpu") -> Measurement:
        curves = np.zeros((len(seeds), 2, len(LEARNED_DIMS)))
        for k, dim in enumerate(LEARNED_DIMS):
            at_dim = config | {"d": dim}
            for j, model in enumerate(("matrix", "learnable")):
                curves[:, j, k] = run(
                    at_dim, seeds, [config["lr"]], device, model=model, optimizer="Adam"
                )[:, 0]
        return Measurement(
            (curves[:, 0] - curves[:, 1]).min(axis=1),
            np.array(LEARNED_DIMS, dtype=float),
            curves,
            "d (dimension)",
            "error",
            series=("W only", "E, W, U learned"),
        )


class TwoDimensions(Law):
    spec = "R6b"
    source = "Section 5 (learned embeddings, d = 2)"
    statement = (
        "With learned embeddings, capacity no longer scales like d: at d = 2, N = 100 and small "
        "M, the error reaches the finite-data floor of R1."
    )
    statistic = (
        "1 if the run's population error is within 0.01 of the finite-data floor "
        "(1 − 1/M)·Σ p(1 − p)^T, else 0, per seed"
    )
    statistic_kind = "binary"  # an error can truly sit at its bound: exact binomial interval
    variable = "d"
    domain = "learnable model, d = 2, N = 100, M ≤ 5, α = 2, Adam γ = 0.1, batches of 1000"
    allowance = 0.01
    typical = 0.75
    tolerance_reason = (
        f"a run reaches the floor when its error is within {allowance} of it: a finite run of "
        "Adam may leave a few rare tokens (each under 0.1% of the mass) unretrieved. The claim is "
        f"that more than {typical:.0%} of runs do (Clopper–Pearson interval on the rate; errors "
        "sit at the bound 0, where a t-interval is meaningless)"
    )
    rival_name = (
        "capacity ∝ d: every run errs on at least (1 − 1/M)·Σ_{x > d} p(x), far above the floor "
        "(rate of runs at the floor below ½)"
    )
    seconds_per_seed = 0.01
    parameters = {
        "N": fixed(100, "number of tokens"),
        "M": Parameter(2, 5, 5, "int", "number of classes"),
        "alpha": fixed(2.0, "Zipf exponent α"),
        "d": fixed(2, "dimension"),
        "niter": Parameter(100, 300, 300, "log_int", "number of steps of 1000 tokens"),
    }
    beyond = ({"niter": 10}, {"M": 20})

    def floor(self, config: Config) -> float:
        p = zipf_probabilities(config["N"], config["alpha"])
        unseen = float(expected_memoriser_error(p, config["niter"] * 1000)[0])
        return (1 - 1 / config["M"]) * unseen

    def predicted(self, config: Config) -> Prediction:
        return Prediction("above", self.typical, 0.0, "most runs reach the finite-data floor")

    def rival(self, config: Config) -> Prediction:
        return Prediction("below", 0.5, 0.0, self.rival_name)

    def measure(self, config: Config, seeds: Sequence[int], device: str = "cpu") -> Measurement:
        errors = run(
            config | {"B": 1000}, seeds, [0.1], device, model="learnable", optimizer="Adam"
        )
        reached = (errors[:, 0] <= self.floor(config) + self.allowance).astype(float)
        return Measurement(
            reached, np.array([float(config["d"])]), errors, "d", "error after training"
        )
