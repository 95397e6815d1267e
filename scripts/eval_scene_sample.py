"""How far the block-sampled scene statistics of uncalibrated imagery are from exact (issue 17).

:func:`gis.zonal.inside.scene_normaliser` takes each date's 2nd/98th percentiles per band and
the scene's median change of the normalised NDVI (and its NDVI range) from a sample. Before
issue 17 the sample was a 512²-pixel nearest-neighbour (decimated) read, which decodes every
block of a tiled GeoTIFF without overviews; now a large GeoTIFF gives a sample of its blocks
(:mod:`gis.zonal.sample`). This script computes, for one pair:

* ``decimated``: the former sample (GDAL's nearest read at 512 pixels a side);
* ``blocks``: the block sample the check now uses (:func:`scene_normaliser`);
* ``exact``: every pixel of both rasters (integer bands by exact histograms; NDVI and its
  change by histograms of 1e-4 bins, two passes: exact within 1e-4);

and prints the constants side by side with the time and CPU each took. Default: the pair of
``scripts/bench_end_to_end.py`` (10000², tiled 512, DEFLATE, cached in the bench folder).

Usage::

    .venv/bin/python scripts/eval_scene_sample.py [--size 10000] [BEFORE AFTER --bands B,G,R,NIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout
sys.path.insert(0, str(ROOT / "scripts"))

from benchkit import cpu_seconds  # noqa: E402

from gis.indices import ndvi  # noqa: E402
from gis.raster import raster_source  # noqa: E402
from gis.zonal import inside  # noqa: E402

ROLES = ("NIR", "R")
BIN = 1e-4


def _decimated(before: Any, after: Any) -> inside.Normaliser:
    """The former sample: GDAL's nearest read at 512 pixels a side of every role."""
    bases = (before, after)
    shape = inside._scene_shape(before, 512)
    raws = []
    for src in bases:
        with src.open() as reader:
            raws.append(
                {
                    r: reader.dataset.read(
                        src.band_index(r), out_shape=shape, resampling=inside.Resampling.nearest
                    ).astype("f8")
                    for r in ROLES
                }
            )
    return inside._scene_constants(raws, bases, None)


def _windows(*srcs: Any) -> Any:
    """Yield the roles of every 1024² window of ``srcs`` (one grid), one dict per source."""
    with srcs[0].open() as r0, srcs[-1].open() as r1:
        readers = (r0, r1)[: len(srcs)] if len(srcs) > 1 else (r0,)
        for win in srcs[0].block_windows(1024):
            yield [
                {r: rd.dataset.read(src.band_index(r), window=win) for r in ROLES}
                for rd, src in zip(readers, srcs, strict=True)
            ]


def _valid(src: Any, raw: dict[str, Any]) -> Any:
    ok = np.ones(next(iter(raw.values())).shape, bool)
    for v in raw.values():
        ok &= np.isfinite(v) & (v != src.nodata if src.nodata is not None else True)
    return ok


def _quantile(hist: Any, edges: Any, q: float) -> float:
    cum = np.cumsum(hist)
    return float(edges[np.searchsorted(cum, q * cum[-1])])


def _exact(before: Any, after: Any) -> inside.Normaliser:
    """Every pixel: band percentiles by integer histograms, then NDVI by 1e-4 histograms."""
    limits = []
    for src in (before, after):
        hist = {r: np.zeros(65536, np.int64) for r in ROLES}
        for (raw,) in _windows(src):
            ok = _valid(src, raw)
            for r in ROLES:
                hist[r] += np.bincount(raw[r][ok].astype(np.int64), minlength=65536)
        edges = np.arange(65536, dtype=float)
        limits.append(
            {r: (_quantile(h, edges, 0.02), _quantile(h, edges, 0.98)) for r, h in hist.items()}
        )
    e0 = np.arange(-1.2, 1.2 + BIN, BIN)
    ed = np.arange(-2.4, 2.4 + BIN, BIN)
    h0, hd = np.zeros(len(e0) - 1, np.int64), np.zeros(len(ed) - 1, np.int64)
    for rb, ra in _windows(before, after):
        vs = []
        for src, raw, lim in ((before, rb, limits[0]), (after, ra, limits[1])):
            ok = _valid(src, raw)
            b = {r: inside._normalised(raw[r].astype("f8"), lim[r], ok) for r in ROLES}
            with np.errstate(invalid="ignore", divide="ignore"):
                vs.append(ndvi(b["NIR"], b["R"]))
        d = vs[1] - vs[0]
        h0 += np.histogram(vs[0][np.isfinite(vs[0])], e0)[0]
        hd += np.histogram(d[np.isfinite(d)], ed)[0]
    lo, hi = _quantile(h0, e0[1:], 0.02), _quantile(h0, e0[1:], 0.98)
    scale = inside.SCENE_NDVI_RANGE / max(hi - lo, inside.MIN_SCENE_RANGE)
    return inside.Normaliser(limits[0], limits[1], _quantile(hd, ed[1:], 0.5) * scale, scale)


def _timed(label: str, func: Any) -> tuple[str, inside.Normaliser, float, float]:
    t, c = time.perf_counter(), cpu_seconds()
    out = func()
    return label, out, time.perf_counter() - t, cpu_seconds() - c


def main() -> None:
    """Compute the three normalisers of the pair and print them side by side."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("paths", nargs="*", type=Path, help="BEFORE AFTER (default: the bench pair)")
    ap.add_argument("--bands", default="B,G,R,NIR")
    ap.add_argument("--size", type=int, default=10000, help="bench pair size (no paths given)")
    ap.add_argument("--no-exact", action="store_true", help="skip the exact (full) pass")
    args = ap.parse_args()
    paths = args.paths
    if not paths:
        import bench_end_to_end as e2e

        paths = list(e2e._pair(argparse.Namespace(size=args.size, dir=None)))
    before, after = (raster_source(p, bands=args.bands) for p in paths)
    print(f"{paths[0].name} / {paths[1].name}")
    print(f"  {'sample':<28} {'wall s':>7} {'CPU s':>7}  constants", flush=True)
    runs = [
        ("decimated 512² (before #17)", lambda: _decimated(before, after)),
        ("blocks (now)", lambda: inside.scene_normaliser(before, after, ROLES)),
    ]
    if not args.no_exact:
        runs.append(("exact (every pixel)", lambda: _exact(before, after)))
    for label, func in runs:
        _, n, wall, cpu = _timed(label, func)
        lim = " ".join(
            f"{d}.{r}=({lo:.1f},{hi:.1f})"
            for d, side in (("b", n.before), ("a", n.after))
            for r, (lo, hi) in side.items()
        )
        print(f"  {label:<28} {wall:7.2f} {cpu:7.2f}  {lim}")
        print(f"  {'':<44}scene_dndvi={n.scene_dndvi:+.4f} index_scale={n.index_scale:.4f}")
        print(flush=True)


if __name__ == "__main__":
    main()
