"""The paper's laws, one module per section: finite data (R1), random embeddings (R2),
finite memory with finite data (R3), the update approximation (R4), optimisation (R5, R6)."""
