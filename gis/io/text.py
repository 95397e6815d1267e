"""Text outputs (HTML maps, reports): written whole and atomically, UTF-8.

Examples
--------
>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "map.html"
>>> _ = write_text(out, "<p>林园</p>")
>>> out.read_text(encoding="utf-8")
'<p>林园</p>'
"""

from __future__ import annotations

import os
from pathlib import Path

from gis.io._atomic import atomic_path


def write_text(path: str | os.PathLike[str], text: str, *, overwrite: bool = False) -> Path:
    """Write ``text`` to ``path`` as UTF-8, atomically (temporary file, then rename).

    Parameters
    ----------
    path : str or PathLike
        Output file; its folder is created when missing.
    text : str
        The whole content.
    overwrite : bool
        Replace an existing file; otherwise an existing file is an error.

    Returns
    -------
    Path
        The written path.

    Raises
    ------
    OutputExistsError
        When ``path`` exists and ``overwrite`` is false.
    """
    target = Path(path)
    with atomic_path(target, overwrite=overwrite) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
    return target
