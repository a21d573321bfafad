"""Checks of ``memlaws``'s arguments before any simulation: the device (its name, that it exists,
and that the tensors fit in its memory), the output paths (writable, a file where a file is meant
and a folder where a folder is), the law ids and the calibration file. Each failure is a
``ValueError`` whose message names the argument and what is allowed; the command line prints it
in one line and exits 2."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from memlaws.theory.cost import readable_bytes

DEVICE_TYPES = ("cpu", "cuda")
DEVICE_FORMS = "cpu, cuda or cuda:N"
REPORT_ENTRIES = frozenset({"REPORT.md", "laws.json", "figures"})  # what a report folder holds
LEFT_BY_WRITES = (".REPORT.md.", ".laws.json.")  # temporary files of an older, killed report
CALIBRATION_KEYS = (
    "false_alarm_rate",
    "power",
    "false_alarm_interval",
    "power_interval",
    "repeats",
    "profile",
    "config",
)
UNLIMITED = 2**60  # a cgroup memory limit above this means "no limit"


# ---------------------------------------------------------------------------------------------
# The device


def check_device(device: str, option: str = "--device") -> str:
    """The device ``device`` names, as the kernel will use it (``cpu`` or ``cuda:K``), once
    its name parses, its type is one memlaws runs on and, for CUDA, the device exists here."""
    try:
        where = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"{option} {device!r} is not a device; use {DEVICE_FORMS}") from None
    if where.type not in DEVICE_TYPES:
        raise ValueError(f"{option} {device}: memlaws runs on {DEVICE_FORMS}, not {where.type}")
    if where.type == "cpu":
        if where.index not in (None, 0):
            raise ValueError(f"{option} {device}: the CPU is cpu (or cpu:0); use {DEVICE_FORMS}")
        return "cpu"
    return f"cuda:{_cuda_index(device, where.index, option)}"


def _cuda_index(device: str, index: int | None, option: str) -> int:
    if not torch.backends.cuda.is_built():
        raise ValueError(
            f"{option} {device}: this torch ({torch.__version__}) is built without CUDA; "
            "use --device cpu"
        )
    if not torch.cuda.is_available():
        raise ValueError(f"{option} {device}: no CUDA device is available here; use --device cpu")
    count = torch.cuda.device_count()
    if index is None:
        return torch.cuda.current_device()
    if index >= count:
        present = ", ".join(f"cuda:{i}" for i in range(count))
        raise ValueError(
            f"{option} {device}: no such device; this machine has {count} CUDA device(s): {present}"
        )
    return index


def available_memory(device: str) -> int | None:
    """Bytes free for new tensors on ``device`` (a checked device string): the device's free
    memory for CUDA; for the CPU, MemAvailable, capped by this process's cgroup limit. ``None``
    when it cannot be read."""
    if device.startswith("cuda"):
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    available = _meminfo_available()
    limit = _cgroup_headroom()
    if available is None:
        return limit
    return available if limit is None else min(available, limit)


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return None


def _cgroup_headroom() -> int | None:
    """The cgroup's memory limit minus its usage (cgroup v2, else v1), ``None`` if unlimited."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        try:
            limit_text = Path(limit_file).read_text().strip()
            usage = int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit_text == "max" or int(limit_text) >= UNLIMITED:
            return None
        return max(int(limit_text) - usage, 0)
    return None


def check_fits(need: int, device: str, what: str, advice: str) -> None:
    """Refuse ``what`` when its estimated peak memory ``need`` (bytes) exceeds what ``device``
    has free; ``advice`` says what to reduce."""
    free = available_memory(device)
    if free is not None and need > free:
        raise ValueError(
            f"{what} needs about {readable_bytes(need)} of memory (estimate), but "
            f"{readable_bytes(free)} is available on {device}; {advice}"
        )


# ---------------------------------------------------------------------------------------------
# Paths


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def _creatable(option: str, path: Path) -> None:
    """Make sure files can be created in ``path``'s folder: its missing folders are created
    (an ancestor that is a file is refused) and a temporary file is made and removed there."""
    ancestor = _nearest_existing(path.parent)
    if not ancestor.is_dir():
        raise ValueError(f"{option} {path}: {ancestor} is a file, not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise ValueError(f"{option} {path}: cannot write in {path.parent} ({reason})") from None


def check_output_file(option: str, path: Path) -> Path:
    """A file to append to or create: not a folder, writable, its folder creatable."""
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder; give a file path, e.g. {path / 'out'}")
    if path.exists():
        try:
            with path.open("ab"):  # opened to append, left unchanged
                pass
        except OSError as error:
            reason = error.strerror or str(error)
            raise ValueError(f"{option} {path}: cannot write to it ({reason})") from None
        return path
    _creatable(option, path)
    return path


def check_output_folder(option: str, path: Path) -> Path:
    """A report folder to replace as a whole: not a file; beside it a folder can be built and
    renamed (its parent writable); not the working folder or one above it; and, when it
    exists, holding nothing but a report's entries, since the old folder is deleted."""
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option} {path} is a file; give a folder for the report")
    resolved = path.resolve()
    working = Path.cwd().resolve()
    if resolved == working or resolved in working.parents:
        raise ValueError(
            f"{option} {path} is the working folder or one above it; the report replaces its "
            "folder as a whole: give a folder of its own, e.g. report"
        )
    _creatable(option, path)
    if path.is_dir():
        _creatable(option, path / "REPORT.md")  # the old report is deleted once replaced
        others = sorted(
            entry.name
            for entry in path.iterdir()
            if entry.name not in REPORT_ENTRIES and not entry.name.startswith(LEFT_BY_WRITES)
        )
        if others:
            shown = ", ".join(others[:3]) + (", …" if len(others) > 3 else "")
            raise ValueError(
                f"{option} {path} holds files that are not part of a report ({shown}); the "
                "report replaces its folder as a whole: give a new folder or a report's folder"
            )
    return path


def check_input_file(option: str, path: Path) -> Path:
    """A file to read: it exists, is a file and is readable."""
    if not path.exists():
        raise ValueError(f"{option} {path}: no such file")
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder; give a file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{option} {path}: cannot read it (permission denied)")
    return path


def check_calibration(option: str, path: Path, must_exist: bool = True) -> Path:
    """A calibration file (``memlaws.theory.calibration_record``): a readable JSON object mapping
    law ids to summaries with the fields the report reads. With ``must_exist`` false a missing
    file is allowed (``calibrate --store`` creates it)."""
    if not must_exist and not path.exists():
        return check_output_file(option, path)
    check_input_file(option, path)
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{option} {path} is not a calibration file (not text)") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{option} {path} is not valid JSON: {error}") from None
    if not isinstance(stored, dict):
        raise ValueError(f"{option} {path} must hold a JSON object keyed by law id")
    for spec, summary in stored.items():
        missing = [k for k in CALIBRATION_KEYS if not isinstance(summary, dict) or k not in summary]
        if missing:
            raise ValueError(
                f"{option} {path} is not a calibration file: its entry {spec!r} lacks "
                f"{', '.join(missing)} (calibration files are written by memlaws calibrate --store)"
            )
    if not must_exist:
        check_output_file(option, path)
    return path


# ---------------------------------------------------------------------------------------------
# Laws


def check_laws(specs: Sequence[str] | None, registered: Iterable[str]) -> list[str] | None:
    """``specs`` when each is a registered law id (``None``: every law)."""
    if not specs:
        return None
    known = list(registered)
    for spec in specs:
        if spec not in known:
            raise ValueError(
                f"--law {spec!r} is not a registered law; the laws are {', '.join(known)}"
            )
    return list(dict.fromkeys(specs))
