"""The one edge every check's ``run.py`` writes its results through.

- Output planning: :func:`plan_outputs` drops the outputs not asked for and refuses existing
  ones (unless ``overwrite``) and any output that is one of the run's inputs (resolved, or the
  same file by inode; a Shapefile with its sidecars; a file inside an input folder), with or
  without ``overwrite``, before anything is computed.
- Inputs: :func:`record_inputs` puts each input's path and SHA-256 in the run metadata;
  :func:`gis.paths.input_checksum` leaves GDAL ``/vsi…`` paths (object storage, HTTP, archives)
  unfetched, so every command accepts them alike.
- Engine: :func:`record_engine` puts where the run ran and its peak memory
  (:func:`gis.distributed.cluster_info`) in the run metadata.
- :func:`run_table` turns the run metadata into the ``run`` layer.
- :func:`staged_outputs`: every output of a run (GeoPackage, XLSX, CSV, KMZ, charts) is
  written into a temporary folder beside its own target (so no rename crosses file systems)
  and renamed into place only when all were written; on any failure — writing or renaming —
  no new output and no staged file is left, and the outputs replaced so far are restored.
  Messages of errors raised while writing name the target, not the staged file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from gis.errors import GisError, OutputError, output_error
from gis.io._atomic import check_overwrite, refuse_file_on_path
from gis.paths import input_checksum, split_layer

PathLike = str | os.PathLike[str]


def record_inputs(
    run: dict[str, Any], inputs: Mapping[str, PathLike | None], *, engine: str = "pyogrio"
) -> None:
    """Add sections ``inputs`` (role → path) and ``sha256`` (role → checksum) to ``run``.

    Inputs given as ``None`` (optional, not used) are left out; ``vector_engine`` records the
    engine that read the vector layers (``--engine``).
    """
    given = {k: v for k, v in inputs.items() if v is not None}
    run["vector_engine"] = engine
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


class OutputIsInputError(OutputError):
    """An output path is one of the run's inputs (writing it would replace the input)."""


SHAPEFILE_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".qmd")
"""The files of one Shapefile: an output of any of them touches all of them."""


def _files_of(path: PathLike) -> list[Path]:
    """Return the local files ``path`` stands for: a Shapefile's sidecars, a zip of ``/vsizip``.

    A comma-separated list of scenes (``A.tif,B.tif``) stands for each of them; remote GDAL
    paths (``/vsicurl``, ``/vsis3`` …) for no local file.
    """
    text = split_layer(path)[0]
    if "," in text and not os.path.exists(text):
        return [f for part in text.split(",") if part.strip() for f in _files_of(part.strip())]
    if text.startswith("/vsi"):
        local = Path(text.split("/", 2)[2]) if text.count("/") > 1 else Path()
        while local != local.parent and not local.is_file():
            local = local.parent
        return [local] if local.is_file() else []
    p = Path(text)
    if p.suffix.lower() in SHAPEFILE_SIDECARS:
        return [p.with_suffix(s) for s in SHAPEFILE_SIDECARS] + [p.with_suffix(".shp.xml")]
    return [p]


def _same(output: Path, source: Path) -> bool:
    """Whether ``output`` is ``source`` (resolved or by inode) or inside the input folder."""
    out, src = output.resolve(), source.resolve()
    if out == src or (src in out.parents and src.is_dir()):
        return True
    with contextlib.suppress(OSError):
        return output.exists() and source.exists() and os.path.samefile(output, source)
    return False


def refuse_inputs(outputs: Mapping[str, PathLike], inputs: Iterable[PathLike | None]) -> None:
    """Raise :class:`OutputIsInputError` when an output is one of ``inputs``.

    An output is an input when they resolve to the same path, are the same file by inode
    (a hard link, a symlink), share a Shapefile (``a.dbf`` is part of ``a.shp``), or the
    output lies inside an input folder (a FileGDB). Checked whatever ``overwrite`` says.

    Examples
    --------
    >>> refuse_inputs({"out": "/d/a.dbf"}, ["/d/a.shp"])
    Traceback (most recent call last):
    ...
    gis.io.outputs.OutputIsInputError: output /d/a.dbf is an input of this run ...
    """
    sources = [(Path(os.fspath(i)), f) for i in inputs if i is not None for f in _files_of(i)]
    for target in outputs.values():
        for out in _files_of(target):
            for given, source in sources:
                if _same(out, source):
                    raise OutputIsInputError(
                        f"output {target} is an input of this run ({given}): writing it would "
                        "replace the input; choose another output path, e.g. in another folder "
                        "or name",
                        zh=f"输出 {target} 就是本次运行的输入 {given}，写入会覆盖输入；"
                        "请换一个输出路径（另一个文件夹或文件名）",
                    )


def plan_outputs(
    targets: Mapping[str, PathLike | None],
    *,
    overwrite: bool,
    inputs: Iterable[PathLike | None],
) -> dict[str, Path]:
    """Return the outputs asked for (``None`` dropped) as Paths; refuse unsafe ones.

    Called before the inputs are read, so a run that would fail to write fails at once.
    ``inputs`` are every file the run reads (``None`` for options not given): no output
    may be one of them (:func:`refuse_inputs`), with or without ``overwrite``.

    Raises
    ------
    OutputIsInputError
        An output is one of the inputs.
    OutputExistsError
        An output exists and ``overwrite`` is false.
    OutputError
        An output is a folder (``overwrite`` never replaces a folder).
    """
    planned = {k: Path(v) for k, v in targets.items() if v}
    refuse_inputs(planned, inputs)
    for target in planned.values():
        refuse_file_on_path(target)
        if target.is_dir():
            raise output_error(OSError(errno.EISDIR, os.strerror(errno.EISDIR)), target)
    return {k: check_overwrite(v, overwrite=overwrite) for k, v in planned.items()}


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
    outputs: Mapping[str, PathLike],
    *,
    overwrite: bool,
    inputs: Iterable[PathLike | None] = (),
) -> Iterator[dict[str, Path]]:
    """Yield a staged path per output; rename them all into place when the block succeeds.

    Each output is staged under its own name in a temporary folder beside its target, so
    writers that use the file name (a KMZ's document name) write what they would write in
    place, and the final rename never crosses file systems. Existing outputs are refused
    first (unless ``overwrite``). When the block raises, nothing is renamed; when a rename
    fails, the outputs already renamed are taken back (the files they replaced restored).
    Either way no staged file is left behind. ``inputs`` are refused as outputs as in
    :func:`plan_outputs` (callers that planned already need not repeat them). An error
    raised in the block names the targets where it named the staged files.

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
    targets = plan_outputs(outputs, overwrite=overwrite, inputs=inputs)
    created = _new_folders(targets.values())
    folders: list[Path] = []
    stage: dict[str, Path] = {}
    try:
        for key, target in targets.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            folders.append(Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent)))
            stage[key] = folders[-1] / target.name
        try:
            yield stage
            _rename_all(targets, stage, overwrite=overwrite)
        except Exception as exc:
            _name_targets(exc, {stage[k]: targets[k] for k in stage})
            raise
        created = []
    finally:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        for folder in created:  # made for a run that failed: remove them again (when empty)
            with contextlib.suppress(OSError):
                folder.rmdir()


def _name_targets(exc: BaseException, staged: Mapping[Path, Path]) -> None:
    """Rewrite ``exc``'s message (and OS error file names) to name targets, not staged files."""

    def fix(text: str) -> str:
        for path, target in staged.items():
            text = text.replace(str(path), str(target)).replace(str(path.parent), str(target))
        return text

    exc.args = tuple(fix(a) if isinstance(a, str) else a for a in exc.args)
    if isinstance(exc, GisError) and exc.zh:  # the Chinese text names the target too
        exc.zh = fix(exc.zh)
    if isinstance(exc, OSError):
        for attr in ("filename", "filename2"):
            value = getattr(exc, attr)
            if isinstance(value, str):
                setattr(exc, attr, fix(value))


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
