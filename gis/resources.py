"""Files shipped with Linyuan: layer catalog, rules, targets, templates and report notebooks.

In the repository these live at its root, in ``layers/`` and ``notebooks/``, where the README,
the docs and the bureau's staff find and copy them. A built wheel carries the same two folders
inside the package, as ``gis/_data/layers`` and ``gis/_data/notebooks`` (``setup.py`` maps them
there). :func:`resource_path` returns a file's path in whichever layout this ``gis`` was imported
from — an editable install or checkout, or an installed wheel — so no module counts
``Path(__file__).parents[N]`` up to the repository root.

An edited copy of any of these files is passed by path (``--rules``, ``--targets`` …) and never
goes through this module.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path, PurePosixPath

from gis.errors import OptionError

SHIPPED = ("layers", "notebooks")
"""Top-level folders of the repository that a wheel carries."""

PACKAGED_DIR = "_data"
"""Folder inside the installed ``gis`` package that holds the shipped folders."""


@functools.cache
def data_root() -> Path:
    """Return the folder that holds ``layers/`` and ``notebooks/`` for this installation.

    Returns
    -------
    Path
        ``<site-packages>/gis/_data`` when ``gis`` comes from a wheel, otherwise the
        repository root (the parent of the ``gis`` package folder).

    Examples
    --------
    >>> (data_root() / "layers" / "catalog.yaml").is_file()
    True
    """
    package = Path(str(resources.files("gis"))).resolve()
    packaged = package / PACKAGED_DIR
    return packaged if packaged.is_dir() else package.parent


def resource_path(relative: str) -> Path:
    """Return the path of a file or folder shipped with Linyuan.

    The path is not checked for existence here (module constants are built from it at import
    time); the loader that opens it reports a missing file with this path.

    Parameters
    ----------
    relative : str
        Path as it is in the repository, with ``/`` separators, starting with ``layers/`` or
        ``notebooks`` (e.g. ``"layers/rules/patches.yaml"``).

    Returns
    -------
    Path
        Absolute path, in the repository or inside the installed package.

    Raises
    ------
    OptionError
        If ``relative`` is absolute, climbs with ``..`` or is outside the shipped folders.

    Examples
    --------
    >>> p = resource_path("layers/rules/patches.yaml")
    >>> p.parts[-3:], p.is_file()
    (('layers', 'rules', 'patches.yaml'), True)
    >>> resource_path("tests/conftest.py")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gis.errors.OptionError: 'tests/conftest.py' is not a file Linyuan ships: give a path under ...
    """
    parts = PurePosixPath(relative).parts
    if not parts or parts[0] not in SHIPPED or ".." in parts:
        raise OptionError(
            f"{relative!r} is not a file Linyuan ships: give a path under "
            f"{'/ or '.join(SHIPPED)}/, as in the repository (e.g. 'layers/catalog.yaml').",
            zh=f"{relative!r} 不是 Linyuan 自带的文件：请给出 {'/ 或 '.join(SHIPPED)}/ 下的路径，"
            "与代码仓库中一致（例如 'layers/catalog.yaml'）。",
        )
    return data_root().joinpath(*parts)
