"""``memlaws new PATH``: write a plug-in package with one law, its tests and a README, from the
templates in ``theory/templates/plugin/`` (``string.Template``: ``${project}``, ``${module}``,
``${spec}``)."""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).parent / "templates" / "plugin"
FILES = {  # template → path in the plug-in, with ``{module}`` the package's import name
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "__init__.py.tmpl": "{module}/__init__.py",
    "law.py.tmpl": "{module}/law.py",
    "test_law.py.tmpl": "tests/test_law.py",
}
SPEC_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,15}")


def module_name(project: str) -> str:
    """The import name of a project named ``project``: lower case, ``-`` and ``.`` as ``_``."""
    return re.sub(r"[-.]+", "_", project).lower()


def write_plugin(path: Path, spec: str) -> Path:
    """Write the plug-in package at ``path`` (a new or empty folder, whose name names the
    project) declaring law ``spec`` (a letter, then letters, digits, ``_`` or ``-``; not yet
    registered); returns the folder."""
    from memlaws.theory.registry import all_laws

    if not SPEC_PATTERN.fullmatch(spec):
        raise ValueError(
            f"--spec must be a letter then up to 15 letters, digits, '_' or '-'; got {spec!r}"
        )
    if spec in {law.spec for law in all_laws()}:
        raise ValueError(f"--spec {spec!r} is already a registered law; choose another id")
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ValueError(f"PATH {path} exists and is not an empty folder")
    project = path.resolve().name
    module = module_name(project)
    if not module.isidentifier():
        raise ValueError(
            f"PATH {path}: its name {project!r} must give a Python package name (letters, "
            "digits, '_', '-', not starting with a digit)"
        )
    values = {"project": project, "module": module, "spec": spec}
    for template, target in FILES.items():
        text = Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(values)
        destination = path / target.format(module=module)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(text, encoding="utf-8")
    return path
