"""Conjectures checked beside the paper's laws. Every module here is imported by the registry
(in name order) and the laws it marks with ``memlaws.theory.registry.registered`` are registered:
they appear in ``memlaws laws``, get every generic property of ``properties/test_laws.py`` and a row
and a figure in the report. ``docs/adding-a-conjecture.md`` walks through one."""
