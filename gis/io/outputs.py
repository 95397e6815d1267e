"""The one edge every check's ``run.py`` writes its results through.

- Output planning: :func:`plan_outputs` drops the outputs not asked for and refuses existing
  ones (unless ``overwrite``) before anything is computed.
- Inputs: :func:`record_inputs` puts each input's path and SHA-256 in the run metadata;
  :func:`input_checksum` leaves GDAL ``/vsi…`` paths (object storage, HTTP, archives)
  unfetched, so every command accepts them alike.
- Engine: :func:`record_engine` puts where the run ran and its peak memory
  (:func:`gis.distributed.cluster_info`) in the run metadata.
- :func:`run_table` turns the run metadata into the ``run`` layer.
- :func:`staged_outputs`: every output of a run (GeoPackage, XLSX, CSV, KMZ, charts) is
  written into a temporary folder beside its own target (so no rename crosses file systems)
  and renamed into place only when all were written; on any failure — writing or renaming —
  no new output and no staged file is left, and the outputs replaced so far are restored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from gis.io._atomic import check_overwrite

PathLike = str | os.PathLike[str]


def sha256_of(path: PathLike) -> str:
    """Return the SHA-256 of a file, or of the files of a folder or a list of scenes.

    A folder (a FileGDB, a Sentinel-2 ``.SAFE``) counts every file inside it, by name; a
    comma-separated list of scenes each file in the order given.
    """
    p = Path(path)
    digest = hashlib.sha256()
    if not p.exists() and "," in str(path):
        files = [Path(t.strip()) for t in str(path).split(",") if t.strip()]
    else:
        files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
    for q in files:
        with q.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


REMOTE_CHECKSUM = "not computed (remote /vsi path)"
"""The checksum recorded for a GDAL ``/vsi…`` input (it is not fetched to be hashed)."""


def input_checksum(path: PathLike) -> str:
    """Return the SHA-256 of a local input; a GDAL ``/vsi…`` path is not fetched.

    Examples
    --------
    >>> input_checksum("/vsicurl/https://example.com/a.tif")
    'not computed (remote /vsi path)'
    """
    return REMOTE_CHECKSUM if os.fspath(path).startswith("/vsi") else sha256_of(path)


def record_inputs(run: dict[str, Any], inputs: Mapping[str, PathLike | None]) -> None:
    """Add sections ``inputs`` (role → path) and ``sha256`` (role → checksum) to ``run``.

    Inputs given as ``None`` (optional, not used) are left out.
    """
    given = {k: v for k, v in inputs.items() if v is not None}
    run["inputs"] = {k: str(v) for k, v in given.items()}
    run["sha256"] = {k: input_checksum(v) for k, v in given.items()}


def record_engine(run: dict[str, Any], engine: Mapping[str, Any]) -> None:
    """Add sections ``peak_memory_mb`` and ``engine`` to ``run``.

    ``engine`` is what :func:`gis.distributed.cluster_info` returned for the run's client
    (``None`` when the run stayed in this process).
    """
    info = dict(engine)
    run["peak_memory_mb"] = info.pop("peak_memory_mb")
    run["engine"] = info


def plan_outputs(targets: Mapping[str, PathLike | None], *, overwrite: bool) -> dict[str, Path]:
    """Return the outputs asked for (``None`` dropped) as Paths; refuse existing ones.

    Called before the inputs are read, so a run that would fail to write fails at once.

    Raises
    ------
    OutputExistsError
        An output exists and ``overwrite`` is false.
    """
    return {k: check_overwrite(v, overwrite=overwrite) for k, v in targets.items() if v}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def run_table(run: Mapping[str, Any]) -> pd.DataFrame:
    """Return run metadata as a ``section, key, value`` table (values as text or JSON).

    Examples
    --------
    >>> run_table({"tool": "linyuan", "params": {"ring_m": 30}}).values.tolist()
    [['tool', '', 'linyuan'], ['params', 'ring_m', '30']]
    """
    rows = []
    for section, value in run.items():
        if isinstance(value, Mapping):
            for key, item in value.items():
                rows.append((section, str(key), _text(item)))
        else:
            rows.append((section, "", _text(value)))
    return pd.DataFrame(rows, columns=["section", "key", "value"])


def plain_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with nullable booleans/integers as objects/floats (for XLSX, KML).

    GeoPackages take the nullable dtypes as they are; this is for exchange writers.
    """
    out = frame.copy()
    for col in out.columns:
        dtype = out[col].dtype
        if isinstance(dtype, pd.BooleanDtype):
            out[col] = out[col].astype(object).where(out[col].notna(), None)
        elif isinstance(dtype, pd.Int64Dtype):
            out[col] = out[col].astype("float64")
    return out


@contextlib.contextmanager
def staged_outputs(
    outputs: Mapping[str, PathLike], *, overwrite: bool
) -> Iterator[dict[str, Path]]:
    """Yield a staged path per output; rename them all into place when the block succeeds.

    Each output is staged under its own name in a temporary folder beside its target, so
    writers that use the file name (a KMZ's document name) write what they would write in
    place, and the final rename never crosses file systems. Existing outputs are refused
    first (unless ``overwrite``). When the block raises, nothing is renamed; when a rename
    fails, the outputs already renamed are taken back (the files they replaced restored).
    Either way no staged file is left behind.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with staged_outputs({"a": d / "a.txt", "b": d / "sub" / "b.txt"}, overwrite=False) as st:
    ...     _ = st["a"].write_text("1"), st["b"].write_text("2")
    ...     st["b"].parent.parent == d / "sub"
    True
    >>> sorted(p.relative_to(d).as_posix() for p in d.rglob("*"))
    ['a.txt', 'sub', 'sub/b.txt']
    """
    targets = plan_outputs(outputs, overwrite=overwrite)
    created = _new_folders(targets.values())
    folders: list[Path] = []
    try:
        stage = {}
        for key, target in targets.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            folders.append(Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent)))
            stage[key] = folders[-1] / target.name
        yield stage
        _rename_all(targets, stage, overwrite=overwrite)
        created = []
    finally:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        for folder in created:  # made for a run that failed: remove them again (when empty)
            with contextlib.suppress(OSError):
                folder.rmdir()


def _new_folders(targets: Iterable[Path]) -> list[Path]:
    """Folders the targets need that do not exist yet, deepest first."""
    missing = {p for t in targets for p in t.parents if not p.exists()}
    return sorted(missing, key=lambda p: len(p.parts), reverse=True)


def _rename_all(targets: Mapping[str, Path], stage: Mapping[str, Path], *, overwrite: bool) -> None:
    """Rename every staged file onto its target; on failure undo the renames done."""
    for target in targets.values():
        check_overwrite(target, overwrite=overwrite)
    done: list[tuple[Path, Path | None]] = []
    try:
        for key, target in targets.items():
            kept = stage[key].with_name(f".replaced.{target.name}") if target.exists() else None
            if kept is not None:
                os.replace(target, kept)  # beside the staged file: the same file system
            done.append((target, kept))
            os.replace(stage[key], target)
    except BaseException:
        for target, kept in reversed(done):
            if kept is not None:
                os.replace(kept, target)
            else:
                target.unlink(missing_ok=True)
        raise
