"""Optional dependencies: what only some users need, installed as extras of ``linyuan``.

The core install (``pip install linyuan``) reads, checks, maps and reports in one process. Two
features need more, and say which extra installs it when it is missing:

- ``--workers N`` / ``--scheduler tcp://…`` (a Dask cluster): ``pip install "linyuan[dask]"``;
- GeoParquet input (``.parquet``): ``pip install "linyuan[parquet]"`` (pyarrow).

``linyuan[bench]`` adds the peers the benchmarks compare with, and ``linyuan[dev]`` everything
(the tests use all of it).

Examples
--------
>>> require("json", purpose="reading JSON").__name__
'json'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from gis.errors import GisError

EXTRAS = {"dask": "dask", "distributed": "dask", "pyarrow": "parquet"}
"""Optional module → the extra of ``linyuan`` that installs it."""

CONDA_PACKAGES = {
    "dask": "dask distributed",
    "distributed": "dask distributed",
    "pyarrow": "pyarrow",
}
"""Optional module → the conda-forge packages that provide it."""


class MissingExtraError(GisError, ImportError):
    """A feature needs an optional package that is not installed; the message names the extra."""


def require(module: str, *, purpose: str, purpose_zh: str | None = None) -> ModuleType:
    """Import ``module`` for ``purpose``, or say which extra of linyuan installs it.

    Parameters
    ----------
    module : str
        Top-level module name (``dask``, ``distributed``, ``pyarrow``).
    purpose : str
        What needs it, as the user asked for it (``--workers 4``, ``reading x.parquet``).

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    MissingExtraError
        When the module is not installed (or its import fails); the message gives the pip and
        conda commands.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = EXTRAS.get(module)
        pip = f'pip install "linyuan[{extra}]"' if extra else f"pip install {module}"
        conda = CONDA_PACKAGES.get(module, module)
        raise MissingExtraError(
            f"{purpose} needs the optional package {module!r}, which cannot be imported "
            f"({exc}); install it with `{pip}` (conda: `conda install -c conda-forge {conda}`)",
            zh=f"{purpose_zh or purpose}需要可选软件包 {module!r}，但无法导入；请用 `{pip}` 安装"
            f"（conda：`conda install -c conda-forge {conda}`）",
        ) from exc
