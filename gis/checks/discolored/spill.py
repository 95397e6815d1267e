"""Raw pixels pass 1 decoded, kept for pass 2 (变色立木: each tile decoded once).

Pass 1 of :mod:`gis.checks.discolored.passes` decodes every other strip of rows for the stand
baselines; pass 2 needs every pixel, and decoding a DEFLATE tile costs several times what
copying its raw pixels does. So pass 1's reader (:meth:`Spill.recording`) writes the raw
pixels it read — before any conversion, and the raster's own invalid mask — to an unnamed
file, cut into tiles one block wide, and pass 2's reader (:meth:`Spill.replaying`) takes
every part of a window that a tile holds from the file and reads only the rest from the
raster. A window assembled so is the array one read of the raster returns (the same raw
values, then the same conversion), so the detected points do not change.

The file is an anonymous in-memory file (``memfd``, Linux; elsewhere an unnamed temporary
file) of at most :data:`SPILL_MB`: tiles past that are not kept and pass 2 decodes them, so
the memory it takes is bounded whatever the raster's size (about half the raster's raw
bytes below the bound: 450 MB for a 10000² 4-band uint16 image). It is not part of the
process's resident set (it is never mapped) and is freed when the passes end or the process
dies. Only a plain file's reader (:class:`~gis.raster.RasterReader`, no warp, no mosaic)
spills. A buffered file on disk would do too, but its writes cost several times those of
memory (page cache, journal, write-back throttling on a busy disk).

Examples
--------
>>> _cuts(0, 600, 256)
[0, 256, 512, 600]
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rasterio.windows import Window

from gis.raster import RasterReader, RasterSource

SPILL_MB = 1024
"""Largest spill in MB (tiles past it are decoded again by pass 2)."""


@dataclass(frozen=True)
class _Tile:
    """Where one tile (bands × rows × cols, then rows × cols of mask) lies in the file."""

    rows: tuple[int, int]
    cols: tuple[int, int]
    offset: int
    masked: bool


def _cuts(lo: int, hi: int, step: int) -> list[int]:
    """``lo``, the multiples of ``step`` inside (lo, hi), ``hi``."""
    return [lo, *range((lo // step + 1) * step, hi, step), hi]


class Spill:
    """Tiles of raw pixels in an unnamed file (in memory), shared by the passes' threads.

    ``idx`` are the band numbers the passes read, ``width`` the tile width (the raster's block
    width), ``limit`` the most bytes kept; the raw type is that of the first read (reads of
    another type are not kept).
    """

    def __init__(self, fd: int, idx: Sequence[int], width: int, limit: int) -> None:
        self.fd = fd
        self.limit = limit
        self.idx = list(idx)
        self.dtype: np.dtype[Any] | None = None
        self.width = max(int(width), 1)
        self._tiles: dict[tuple[int, int], _Tile] = {}
        self._rows: dict[int, list[_Tile]] = {}
        self._end = 0
        self._lock = threading.Lock()

    @classmethod
    @contextlib.contextmanager
    def open(cls, source: RasterSource, roles: Sequence[str]) -> Iterator[Spill | None]:
        """Yield a spill for ``roles`` of ``source`` (``None``: not a plain file, no spill)."""
        if source.reader is not None or SPILL_MB <= 0:
            yield None
            return
        idx = [source.band_index(r) for r in roles]
        with _unnamed() as fd:
            yield cls(fd, idx, source.block_shape[1], SPILL_MB * 2**20)

    def _put(self, raw: NDArray[Any], masked: NDArray[np.bool_] | None, win: Window) -> None:
        """Write the tiles of ``raw`` (bands, rows, cols) read in ``win`` not yet held."""
        r0, c0 = int(win.row_off), int(win.col_off)
        r1, c1 = r0 + int(win.height), c0 + int(win.width)
        cuts = _cuts(c0, c1, self.width)
        for a, b in itertools.pairwise(cuts):
            part = np.ascontiguousarray(raw[:, :, a - c0 : b - c0])
            size = part.nbytes + (part.shape[1] * part.shape[2] if masked is not None else 0)
            with self._lock:
                self.dtype = part.dtype if self.dtype is None else self.dtype
                if (r0, a) in self._tiles or part.dtype != self.dtype:
                    continue
                if self._end + size > self.limit:
                    return
                tile = _Tile((r0, r1), (a, b), self._end, masked is not None)
                self._end += size
            _write(self.fd, part, tile.offset)
            if masked is not None:
                mask = np.ascontiguousarray(masked[:, a - c0 : b - c0])
                _write(self.fd, mask, tile.offset + part.nbytes)
            with self._lock:
                self._tiles[r0, a] = tile
                self._rows.setdefault(r0, []).append(tile)

    def _held(self, r0: int, r1: int, c0: int, c1: int) -> list[_Tile]:
        """Tiles overlapping rows [r0, r1) and columns [c0, c1)."""
        with self._lock:
            rows = [tiles for top, tiles in self._rows.items() if top < r1]
        return [t for tiles in rows for t in tiles
                if t.rows[1] > r0 and t.cols[0] < c1 and t.cols[1] > c0]  # fmt: skip

    def _get(self, tile: _Tile, rows: tuple[int, int], cols: tuple[int, int]) -> tuple[Any, Any]:
        """Raw (bands, rows, cols) and mask (or None) of ``tile`` at ``rows``×``cols``."""
        assert self.dtype is not None  # set by the first tile
        bands, width = len(self.idx), tile.cols[1] - tile.cols[0]
        height, n = tile.rows[1] - tile.rows[0], rows[1] - rows[0]
        at = rows[0] - tile.rows[0]
        buf = np.empty((bands, n, width), dtype=self.dtype)
        for k in range(bands):  # a band's rows are contiguous in the tile
            _read(self.fd, buf[k], tile.offset + (k * height + at) * width * self.dtype.itemsize)
        a, b = cols[0] - tile.cols[0], cols[1] - tile.cols[0]
        raw = buf[:, :, a:b]
        if not tile.masked:
            return raw, None
        after = bands * height * width * self.dtype.itemsize
        mask = np.empty((n, width), dtype=np.bool_)
        _read(self.fd, mask, tile.offset + after + at * width)
        return raw, mask[:, a:b]

    def recording(self, reader: RasterReader) -> RasterReader:
        """``reader`` (pass 1) that also writes the raw pixels it reads to this spill."""
        return _Recording(reader, self) if type(reader) is RasterReader else reader

    def replaying(self, reader: RasterReader) -> RasterReader:
        """``reader`` (pass 2) that takes the parts of its windows this spill holds from it."""
        return _Replaying(reader, self) if type(reader) is RasterReader else reader


@contextlib.contextmanager
def _unnamed() -> Iterator[int]:
    """Yield an anonymous in-memory file (Linux ``memfd``), else an unnamed temporary file."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("linyuan-discolored-spill", os.MFD_CLOEXEC)
        try:
            yield fd
        finally:
            os.close(fd)
        return
    with tempfile.TemporaryFile() as f:
        yield f.fileno()


def _write(fd: int, arr: NDArray[Any], offset: int) -> None:
    view = arr.data.cast("B")
    while view:
        done = os.pwrite(fd, view, offset)
        view, offset = view[done:], offset + done


def _read(fd: int, arr: NDArray[Any], offset: int) -> None:
    view = arr.data.cast("B")
    while view:
        done = os.preadv(fd, [view], offset)
        if done <= 0:
            raise OSError("spill file ended early")
        view, offset = view[done:], offset + done


class _SpillReader(RasterReader):
    """A plain reader (the same file, mask raster and GDAL cache) with a spill."""

    def __init__(self, inner: RasterReader, spill: Spill) -> None:
        super().__init__(inner.source, inner.dataset, inner.mask)
        self.spill = spill


class _Recording(_SpillReader):
    """A plain reader whose raw reads of the spill's bands are written to the spill."""

    def _read_raw(
        self, idx: list[int], win: Window
    ) -> tuple[NDArray[Any], NDArray[np.bool_] | None]:
        raw, masked = super()._read_raw(idx, win)
        if list(idx) == self.spill.idx:
            self.spill._put(raw, masked, win)
        return raw, masked


class _Replaying(_SpillReader):
    """A plain reader that assembles its raw reads from the spill's tiles and the raster."""

    def _read_raw(
        self, idx: list[int], win: Window
    ) -> tuple[NDArray[Any], NDArray[np.bool_] | None]:
        r0, c0 = int(win.row_off), int(win.col_off)
        r1, c1 = r0 + int(win.height), c0 + int(win.width)
        held = self.spill._held(r0, r1, c0, c1) if list(idx) == self.spill.idx else []
        if not held:
            return super()._read_raw(idx, win)
        raw = np.empty((len(idx), r1 - r0, c1 - c0), dtype=self.spill.dtype)
        masked = np.zeros((r1 - r0, c1 - c0), dtype=np.bool_)
        has_mask = False
        for rows, cols, tile in _pieces(held, (r0, r1), (c0, c1)):
            if tile is None:
                gap = Window(cols[0], rows[0], cols[1] - cols[0], rows[1] - rows[0])
                part, bad = super()._read_raw(idx, gap)
                if part.dtype != raw.dtype:  # not what the tiles hold: read it all
                    return super()._read_raw(idx, win)
            else:
                part, bad = self.spill._get(tile, rows, cols)
            at = (slice(rows[0] - r0, rows[1] - r0), slice(cols[0] - c0, cols[1] - c0))
            raw[:, at[0], at[1]] = part
            if bad is not None:
                masked[at] = bad
                has_mask = True
        return raw, masked if has_mask else None


def _pieces(
    held: Sequence[_Tile], rows: tuple[int, int], cols: tuple[int, int]
) -> Iterator[tuple[tuple[int, int], tuple[int, int], _Tile | None]]:
    """Cover rows × cols with the ``held`` tiles and the gaps between them (``None``).

    Row bands are cut at the tiles' row edges; in a band, consecutive columns no tile holds
    make one gap (one read of the raster).
    """
    edges = sorted({rows[0], rows[1], *(min(max(e, rows[0]), rows[1]) for t in held
                                        for e in t.rows)})  # fmt: skip
    for a, b in itertools.pairwise(edges):
        if a == b:
            continue
        band = sorted((t for t in held if t.rows[0] <= a and t.rows[1] >= b),
                      key=lambda t: t.cols[0])  # fmt: skip
        at = cols[0]
        for t in band:
            lo, hi = max(t.cols[0], cols[0]), min(t.cols[1], cols[1])
            if lo > at:
                yield (a, b), (at, lo), None
            yield (a, b), (lo, hi), t
            at = hi
        if at < cols[1]:
            yield (a, b), (at, cols[1]), None
