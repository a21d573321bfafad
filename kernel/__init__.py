"""memlaws' kernel: random-embedding associative memories, their schemes and exact errors."""

from memlaws.kernel.data import (
    checked_targets,
    expected_memoriser_error,
    expected_mismatched_memoriser_error,
    memoriser_error,
    modular_targets,
    sample_counts,
    sample_tokens,
    seen_probabilities,
    truncated_zipf_probabilities,
    zipf_probabilities,
)
from memlaws.kernel.embeddings import input_embeddings, output_embeddings
from memlaws.kernel.memory import (
    class_sums,
    matrix_scores,
    memory_matrix,
    memory_scores,
    population_error,
    readout,
    scheme_errors,
)
from memlaws.kernel.reference_training import train_reference
from memlaws.kernel.schemes import (
    SCHEMES,
    count_ranking,
    empirical_power_weights,
    fill_seen_weights,
    fill_weights,
    power_weights,
    scheme_weights,
    threshold_counts_weights,
    threshold_weights,
)
from memlaws.kernel.setup import TrainingResult, TrainingSetup
from memlaws.kernel.training import train
from memlaws.kernel.update_approximation import (
    approximate_error_curves,
    approximate_weight_curves,
    approximate_weights,
    update_map,
)

__all__ = [
    "SCHEMES",
    "TrainingResult",
    "TrainingSetup",
    "approximate_error_curves",
    "approximate_weight_curves",
    "approximate_weights",
    "checked_targets",
    "class_sums",
    "count_ranking",
    "empirical_power_weights",
    "expected_memoriser_error",
    "expected_mismatched_memoriser_error",
    "fill_seen_weights",
    "fill_weights",
    "input_embeddings",
    "matrix_scores",
    "memoriser_error",
    "memory_matrix",
    "memory_scores",
    "modular_targets",
    "output_embeddings",
    "population_error",
    "power_weights",
    "readout",
    "sample_counts",
    "sample_tokens",
    "scheme_errors",
    "scheme_weights",
    "seen_probabilities",
    "threshold_counts_weights",
    "threshold_weights",
    "train",
    "train_reference",
    "truncated_zipf_probabilities",
    "update_map",
    "zipf_probabilities",
]
