"""The hostile-input corpus (#13): nothing breaks, nothing is lost, no input is overwritten.

Table-driven: a case is one line — a builder of the hostile input (``tests/hostile_inputs.py``),
the command it is fed to, and the exit code. Every case asserts:

- the documented exit code (2 usage, 3 unusable input or unwritable output, 1 done with
  rejected records or error findings, 0 clean), and never 4 (a bug);
- a failing run's message names the offending file;
- no traceback in the output, and no staged file named where its target is meant;
- no partial output: the output folder holds only what the case allows (nothing on exit 3),
  and no staged or temporary file (``.name.*`` folders, ``*.tmp``) is left anywhere;
- every input byte-for-byte unchanged (all files of the input folder hashed before and after),
  and no file added beside the inputs.

Runs in-process through click's CliRunner; the cases that need a read-only, full or other
filesystem run the CLI as a subprocess inside ``unshare -m`` with tmpfs mounts (root only;
skipped with the reason elsewhere).
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyogrio
import pytest
from click.testing import CliRunner

from gis.cli.main import cli
from gis.maps.page import FieldMap
from tests import hostile_inputs as h

Make = Callable[[h.Ctx], Path]
Args = Callable[[h.Ctx, Path], list[str]]


@dataclass(frozen=True)
class Case:
    """One hostile run: input builder, command, expected exit code, outputs allowed."""

    kind: str
    name: str
    make: Make
    args: Args
    code: int
    allowed: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    mount: str | None = None
    marks: tuple[Any, ...] = ()
    blame: str | None = None
    """What the message must name (``a|b``: either): default the input the case made; "out" the
    output folder."""
    says: str | None = None
    """Text the output must hold (the reason of an exit 3)."""
    finding: str | None = None
    """Code of a finding the results must list (the first allowed output, a GeoPackage)."""

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.name}"


# ------------------------------------------------------------------------------ commands


def validate(c: h.Ctx, p: Path) -> list[str]:
    return ["validate", str(p)]


def map_(c: h.Ctx, p: Path) -> list[str]:
    return ["map", str(p), "--out", str(c.out / "m.html")]


def patches(c: h.Ctx, p: Path) -> list[str]:
    return [
        "check",
        "patches",
        str(p),
        "--before",
        str(c.good("before")),
        "--after",
        str(c.good("after")),
        *h.BANDS,
        "--out",
        str(c.out / "r.gpkg"),
    ]


def patches_sub(c: h.Ctx, p: Path) -> list[str]:
    return [
        *patches(c, c.good("patches"))[:-2],
        "--subcompartments",
        str(p),
        "--out",
        str(c.out / "r.gpkg"),
    ]


def export_kml(c: h.Ctx, p: Path) -> list[str]:
    return ["export", "kml", str(p), "--out", str(c.out / "x.kmz")]


def after(c: h.Ctx, p: Path) -> list[str]:
    return [
        "check",
        "patches",
        str(c.good("patches")),
        "--before",
        str(c.good("before")),
        "--after",
        str(p),
        *h.BANDS,
        "--out",
        str(c.out / "r.gpkg"),
    ]


def before(c: h.Ctx, p: Path) -> list[str]:
    return [
        "check",
        "patches",
        str(c.good("patches")),
        "--before",
        str(p),
        "--after",
        str(c.good("after")),
        *h.BANDS,
        "--out",
        str(c.out / "r.gpkg"),
    ]


def detect(c: h.Ctx, p: Path) -> list[str]:
    return [
        "detect",
        "discolored",
        str(p),
        "--stands",
        str(c.good("stands")),
        "--bands",
        "B,G,R,NIR",
        "--out",
        str(c.out / "d.gpkg"),
    ]


def detect_stands(c: h.Ctx, p: Path) -> list[str]:
    return [
        "detect",
        "discolored",
        str(c.good("img")),
        "--stands",
        str(p),
        "--bands",
        "B,G,R,NIR",
        "--out",
        str(c.out / "d.gpkg"),
    ]


def verify_import(c: h.Ctx, p: Path) -> list[str]:
    return ["verify", "import", str(p), "--into", str(c.out / "field.gpkg")]


def verify_lab(c: h.Ctx, p: Path) -> list[str]:
    return ["verify", "lab", str(p), "--into", str(c.good("store"))]


def good(key: str) -> Make:
    return lambda c: c.good(key)


def fire_hotspots(c: h.Ctx, p: Path) -> list[str]:
    context = ["--subcompartments", str(c.good("fire_sub"))]
    context += ["--districts", str(c.good("fire_districts"))]
    return ["fire", "hotspots", str(p), *context, "--out", str(c.out / "h.gpkg")]


def fire_burned(c: h.Ctx, p: Path) -> list[str]:
    pair = ["--before", str(c.good("burn_before")), "--after", str(p)]
    bands = ["--bands", "B,G,R,NIR,SWIR1,SWIR2"]
    context = ["--subcompartments", str(c.good("burn_sub"))]
    return ["fire", "burned", *pair, *bands, *context, "--out", str(c.out / "b.gpkg")]


def fire_coverage(dem: str | None = None, towers: str | None = None) -> Args:
    """``fire coverage`` with the case's input as the DEM or the towers (the other good)."""

    def make(c: h.Ctx, p: Path) -> list[str]:
        dem_path = p if dem is None else c.good(dem)
        tower_path = p if towers is None else c.good(towers)
        inputs = ["--dem", str(dem_path), "--towers", str(tower_path)]
        context = ["--subcompartments", str(c.good("burn_sub"))]
        return ["fire", "coverage", *inputs, *context, "--out", str(c.out / "c.gpkg")]

    return make


NEEDS_VIEWSHED = (
    pytest.mark.skipif(shutil.which("gdal_viewshed") is None, reason="gdal_viewshed missing"),
)


def _fire(name: str, make: Make, args: Args, code: int, out: str, says: str | None,
          marks: tuple[Any, ...] = ()) -> Case:  # fmt: skip
    """A fire case: exit 3 saying why (``says``), or results holding the finding ``says``."""
    if code == 3:
        return Case("fire", name, make, args, 3, says=says, marks=marks)
    blame = out if code == 1 else None  # the summary points at the results with the findings
    return Case("fire", name, make, args, code, (out,), marks=marks, blame=blame, finding=says)


def _towers_off_the_dem(c: h.Ctx) -> Path:
    return h._towers(c.inp / "towers_far.gpkg", h.FIRE_X0 + 50_000)


FIRE_CASES = [
    *(
        _fire(f"hotspots-{bad}", make, fire_hotspots, code, "h.gpkg", says)
        for bad, (make, code, says) in h.BAD_HOTSPOTS.items()
    ),
    _fire("burned-pair-apart", h._after_elsewhere, fire_burned, 3, "b.gpkg", "完全不重叠"),
    _fire(
        "coverage-dem-in-degrees",
        h._dem_in_degrees,
        fire_coverage(towers="towers"),
        3,
        "c.gpkg",
        "投影坐标系",
        NEEDS_VIEWSHED,
    ),
    *(
        _fire(
            f"coverage-dem-{bad}",
            make,
            fire_coverage(towers="towers"),
            3,
            "c.gpkg",
            says,
            NEEDS_VIEWSHED,
        )
        for bad, (make, says) in h.misread_rasters("dem", "DEM").items()
        if bad != "tif-bands-described"
    ),
    _fire(
        "coverage-towers-off-the-dem",
        _towers_off_the_dem,
        fire_coverage(dem="dem"),
        1,
        "c.gpkg",
        "no_tower_on_dem",
        NEEDS_VIEWSHED,
    ),
]
"""Fire inputs (#19): hotspots outside the area, times without zone, broken FIRMS files, an
empty one, a burned pair that does not overlap, a DEM in degrees, towers off the DEM."""


VECTOR_COMMANDS: dict[str, Args] = {
    "validate": validate,
    "map": map_,
    "check-patches": patches,
    "check-subcompartments": patches_sub,
    "export-kml": export_kml,
    "detect-stands": detect_stands,
}
# Accepted rather than refused, with why (the run completes, or fails another documented way):
ACCEPTED = {
    # an empty FeatureCollection is a valid, empty layer: validate has nothing to report, a map
    # of nothing is still a map, and check patches reports "no patches" as an error finding
    ("validate", "geojson-no-features"): 0,
    ("map", "geojson-no-features"): 0,
    ("check-patches", "geojson-no-features"): 1,
    ("check-subcompartments", "geojson-no-features"): 0,  # no context: patches need a visit
    # click refuses a folder where its option wants a file: a usage error (exit 2)
    ("export-kml", "folder-as-gpkg"): 2,
}
ALLOWED = {
    ("map", "geojson-no-features"): ("m.html",),
    ("export-kml", "geojson-no-features"): ("x.kmz",),
    ("check-patches", "geojson-no-features"): ("r.gpkg",),
    ("check-subcompartments", "geojson-no-features"): ("r.gpkg",),
}
# The detector names the stands by their role, not the file (gis/checks, layout branch)
# the summary of a run with error findings points at the results, where they are listed
BLAME = {
    ("detect-stands", "geojson-no-features"): "stands",
    ("check-patches", "geojson-no-features"): "r.gpkg",
}
BLAME_BAD = {"dbf-garbage": "bad.dbf|bad.shp"}  # the damaged part, or the Shapefile
# map draws every layer of a zip (each named by its path inside), so several need no choice
ZIP_EXIT = {("map", "zip-two-layers-no-choice"): 0}
ZIP_ENV = {"LINYUAN_ZIP_MAX_MEMBER": "1M"}
PHOTOS = ("field.gpkg", "field.photos", "field.photos/*", "field.photos/*/*")


def _cases() -> list[Case]:
    cases = [
        Case(
            "vectors",
            f"{cmd}-{bad}",
            make,
            args,
            ACCEPTED.get((cmd, bad), 3),
            ALLOWED.get((cmd, bad), ()),
            blame=BLAME.get((cmd, bad), BLAME_BAD.get(bad)),
        )
        for bad, make in h.BAD_VECTORS.items()
        for cmd, args in VECTOR_COMMANDS.items()
    ]
    cases += [
        Case(
            "zips",
            f"{cmd}-{bad}",
            make,
            args,
            ZIP_EXIT.get((cmd, bad), 3),
            ("m.html",),
            env=ZIP_ENV,
        )
        for bad, make in h.BAD_ZIPS.items()
        for cmd, args in (("validate", validate), ("map", map_), ("export-kml", export_kml))
    ]
    cases += [
        Case("zips", f"validate-{ok}", make, validate, 0, env=ZIP_ENV)
        for ok, make in h.GOOD_ZIPS.items()
    ]
    cases += [
        Case("zips", f"map-{ok}", make, map_, 0, ("m.html",), env=ZIP_ENV)
        for ok, make in h.GOOD_ZIPS.items()
    ]
    cases += [
        Case("rasters", f"{role}-{bad}", make, args, 3)
        for role, args in (("after", after), ("before", before))
        for bad, make in h.bad_rasters("after", 3).items()
    ]
    cases += [
        Case("rasters", f"detect-{bad}", make, detect, 3)
        for bad, make in h.bad_rasters("img", 4).items()
    ]
    cases += [
        Case("rasters", f"{role}-{bad}", make, args, 3, says=says)
        for role, args in (("after", after), ("before", before))
        for bad, (make, says) in h.misread_rasters("after", "R,NIR,SWIR2").items()
    ]
    cases += [
        Case("rasters", f"detect-{bad}", make, detect, 3, says=says)
        for bad, (make, says) in h.misread_rasters("img", "B,G,R,NIR").items()
    ]
    cases += [Case("rasters", "detect-modis-250m", h.modis_like("img"), detect, 3, says="250 米")]
    cases += [Case("field", bad, make, verify_import, 1) for bad, make in h.BAD_EXPORTS.items()]
    cases += [
        Case("field", ok, make, verify_import, 0, PHOTOS) for ok, make in h.GOOD_EXPORTS.items()
    ]
    cases += [Case("lab", bad, make, verify_lab, 1) for bad, make in h.BAD_LAB_ROWS.items()]
    cases += [
        Case("lab", bad, make, verify_lab, 2 if bad == "lab-folder" else 3)  # click: a usage error
        for bad, make in h.BAD_LAB_FILES.items()
    ]
    cases += [
        Case("delivered", name, make, validate, code, says=says)
        for name, (make, code, says) in h.DELIVERED.items()
    ]
    return cases + FIRE_CASES + OUTPUT_CASES


# ----------------------------------------------------------------------- output targets


def _out_is_folder(c: h.Ctx, p: Path) -> list[str]:
    (c.out / "r.gpkg").mkdir()
    return patches(c, p)


def _out_under_file(c: h.Ctx, p: Path) -> list[str]:
    (c.out / "file").write_text("x")
    return ["validate", str(p), "--out", str(c.out / "file" / "f.csv")]


def _under_file(args: Args, option: str) -> Args:
    """``args`` with ``option``'s path moved under a plain file (``out/file/…``)."""

    def make(c: h.Ctx, p: Path) -> list[str]:
        (c.out / "file").write_text("x")
        out = args(c, p)
        at = out.index(option) + 1
        out[at] = str(c.out / "file" / "sub" / Path(out[at]).name)
        return out

    return make


_patches_under_file = _under_file(patches, "--out")
_map_under_file = _under_file(map_, "--out")
_import_under_file = _under_file(verify_import, "--into")


def _store_is_results(c: h.Ctx, p: Path) -> list[str]:
    return ["verify", "import", str(p), "--into", str(c.good("results"))]


def _store_is_text(c: h.Ctx, p: Path) -> list[str]:
    (c.inp / "notes.gpkg").write_text("my notes")
    return ["verify", "import", str(p), "--into", str(c.inp / "notes.gpkg")]


def _validate_out(c: h.Ctx, p: Path) -> list[str]:
    return ["validate", str(p), "--out", str(c.out / "f.gpkg")]


def _patches_xlsx_elsewhere(c: h.Ctx, p: Path) -> list[str]:
    local = c.inp.parent / "local"
    local.mkdir(exist_ok=True)
    return [*patches(c, p)[:-1], str(local / "r.gpkg"), "--xlsx", str(c.out / "r.xlsx")]


def _map_over_input(c: h.Ctx, p: Path) -> list[str]:
    return ["map", str(p), "--out", str(p), "--overwrite"]


def _patches_over_input(c: h.Ctx, p: Path) -> list[str]:
    return [*patches(c, p)[:-1], str(p), "--overwrite"]


def _over(args: Args, flag: str, role: str | None = None) -> Args:
    """``args`` with the value of ``flag`` (added when missing) set to an input, ``--overwrite``.

    ``role`` names the input: the case's own (default) or a good one copied into ``in/``.
    """

    def make(c: h.Ctx, p: Path) -> list[str]:
        given = args(c, p)
        target = str(c.good(role) if role else p)
        if flag in given:
            given[given.index(flag) + 1] = target
        else:
            given += [flag, target]
        return [*given, "--overwrite"]

    return make


def _greenery_kpi(c: h.Ctx, p: Path) -> list[str]:
    layers = ["--greenways", str(p), "--parks", str(p), "--villages", str(p)]
    return ["greenery", "kpi", *layers, "--districts", str(p), "--out", str(c.out / "k.gpkg")]


def _greenery_coverage(c: h.Ctx, p: Path) -> list[str]:
    layers = ["--parks", str(p), "--residential", str(p)]
    return ["greenery", "coverage", *layers, "--out", str(c.out / "g.gpkg")]


def _report_over_results(c: h.Ctx, p: Path) -> list[str]:
    html = p.rename(p.with_suffix(".html"))  # a results GeoPackage with an .html name
    return ["report", "patches", str(html), "--out", str(html), "--overwrite"]


def _import_into_results(c: h.Ctx, p: Path) -> list[str]:
    results = c.good("results")
    return [*verify_import(c, p)[:-1], str(results), "--results", str(results)]


def _import_into_export(c: h.Ctx, p: Path) -> list[str]:
    return [*verify_import(c, p)[:-1], str(p)]


def _lab_into_lab(c: h.Ctx, p: Path) -> list[str]:
    return ["verify", "lab", str(p), "--into", str(p)]


def _map_over_hard_link(c: h.Ctx, p: Path) -> list[str]:
    os.link(p, c.out / "m.html")  # another name, the same file (inode)
    return [*map_(c, p), "--overwrite"]


def _map_over_symlink(c: h.Ctx, p: Path) -> list[str]:
    (c.out / "m.html").symlink_to(p)
    return [*map_(c, p), "--overwrite"]


def _validate_over_sidecar(c: h.Ctx, p: Path) -> list[str]:
    return ["validate", str(p), "--out", str(p.with_suffix(".dbf")), "--overwrite"]


def _xlsx_over_sidecar(c: h.Ctx, p: Path) -> list[str]:
    return [*patches(c, p), "--xlsx", str(p.with_suffix(".DBF")), "--overwrite"]


def _patches_over_scene(c: h.Ctx, p: Path) -> list[str]:
    args, scene = patches(c, p), c.good("after", "scene2.tif")
    args[args.index("--after") + 1] += f",{scene}"  # several scenes of the later date
    return [*args[:-1], str(scene), "--overwrite"]


def _map_over_quicklook(c: h.Ctx, p: Path) -> list[str]:
    image = c.good("img")
    return ["map", str(p), "--quicklook", str(image), "--out", str(image), "--overwrite"]


def _districts(c: h.Ctx) -> Path:
    layer = h.frame([(h.X0, h.Y0), (h.X0 + 200, h.Y0), (h.X0 + 400, h.Y0)])
    layer["district"] = ["南关区", "朝阳区", "绿园区"]
    return h.write_layer(layer, c.inp / "districts.gpkg")


def _map_by_one_blocked(c: h.Ctx, p: Path) -> list[str]:
    (c.out / "m_绿园区.html").mkdir()  # one group's target is a folder: its rename fails
    return [*map_(c, p), "--by", "district", "--overwrite"]


def _refused(
    name: str, make: Make, args: Args, allowed: tuple[str, ...] = (), blame: str | None = None
) -> Case:
    """An output case refused with exit 3 (what the message must name: ``blame``)."""
    return Case("outputs", name, make, args, 3, allowed, blame=blame)


OUTPUT_CASES = [
    Case(
        "outputs", "out-is-a-folder", good("patches"), _out_is_folder, 2, ("r.gpkg",), blame="out"
    ),
    *(
        Case("outputs", name, make, args, 3, ("file",), blame="out", says="路径中有一段是文件")
        for name, make, args in (
            ("out-under-a-file", good("patches"), _out_under_file),
            ("check-out-under-a-file", good("patches"), _patches_under_file),
            ("map-out-under-a-file", good("results"), _map_under_file),
            ("import-into-under-a-file", h._export(h._prop()), _import_under_file),
        )
    ),
    Case(
        "outputs",
        "into-results-file",
        h._export(h._prop()),
        _store_is_results,
        3,
        blame="patches_checked.gpkg",
    ),
    Case("outputs", "into-text-file", h._export(h._prop()), _store_is_text, 3, blame="notes.gpkg"),
    Case("outputs", "ro-validate-out", good("patches"), _validate_out, 3, mount="ro", blame="out"),
    Case("outputs", "ro-map-out", good("results"), map_, 3, mount="ro", blame="out"),
    Case("outputs", "ro-check-patches-out", good("patches"), patches, 3, mount="ro", blame="out"),
    Case("outputs", "ro-export-kml-out", good("results"), export_kml, 3, mount="ro", blame="out"),
    Case("outputs", "ro-detect-out", good("img"), detect, 3, mount="ro", blame="out"),
    Case(
        "outputs",
        "ro-verify-import-into",
        h._export(h._prop()),
        verify_import,
        3,
        mount="ro",
        blame="out",
    ),
    Case("outputs", "full-map-out", good("results"), map_, 3, mount="full", blame="out"),
    Case(
        "outputs", "full-check-patches-out", good("patches"), patches, 3, mount="full", blame="out"
    ),
    Case(
        "outputs", "full-validate-out", good("patches"), _validate_out, 3, mount="full", blame="out"
    ),
    Case("outputs", "full-detect-out", good("img"), detect, 3, mount="full", blame="out"),
    # all-or-nothing across outputs on two filesystems (the staged edge of gis.io.outputs):
    # another disk is fine, a read-only second target leaves no first one
    Case(
        "outputs",
        "xdev-patches-xlsx",
        good("patches"),
        _patches_xlsx_elsewhere,
        0,
        ("r.xlsx", "../local/r.gpkg"),
        mount="rw",
    ),
    Case(
        "outputs",
        "ro-second-target",
        good("patches"),
        _patches_xlsx_elsewhere,
        3,
        mount="ro",
        blame="out",
    ),
    # an output is never an input (resolved, or the same file by inode), --overwrite or not:
    # one line per command and per sidecar output, each refused before anything is read
    _refused("map-out-is-input", good("results"), _map_over_input),
    _refused("map-out-is-a-hard-link", good("results"), _map_over_hard_link, ("m.html",)),
    _refused("map-out-is-a-symlink", good("results"), _map_over_symlink, ("m.html",)),
    _refused("map-out-is-quicklook", good("results"), _map_over_quicklook, blame="img.tif"),
    _refused("check-out-is-input", good("patches"), _patches_over_input),
    _refused(
        "check-out-is-before",
        good("patches"),
        _over(patches, "--out", "before"),
        blame="before.tif",
    ),
    _refused("check-xlsx-is-input", good("patches"), _over(patches, "--xlsx")),
    _refused("check-out-is-a-scene", good("patches"), _patches_over_scene, blame="scene2.tif"),
    _refused("check-kml-is-input", good("patches"), _over(patches, "--kml")),
    _refused("check-xlsx-is-shp-sidecar", good("shp"), _xlsx_over_sidecar),
    _refused(
        "detect-out-is-stands", good("img"), _over(detect, "--out", "stands"), blame="stands.gpkg"
    ),
    _refused("detect-csv-is-input", good("img"), _over(detect, "--csv")),
    _refused("detect-kml-is-input", good("img"), _over(detect, "--kml")),
    _refused("kpi-out-is-input", good("patches"), _over(_greenery_kpi, "--out")),
    _refused("kpi-xlsx-is-input", good("patches"), _over(_greenery_kpi, "--xlsx")),
    _refused("coverage-out-is-input", good("patches"), _over(_greenery_coverage, "--out")),
    _refused("validate-out-is-input", good("patches"), _over(_validate_out, "--out")),
    _refused("validate-out-is-shp-sidecar", good("shp"), _validate_over_sidecar),
    _refused(
        "report-out-is-results", good("results"), _report_over_results, blame="patches_checked.html"
    ),
    _refused("export-kml-out-is-input", good("results"), _over(export_kml, "--out")),
    _refused("import-into-is-export", h._export(h._prop()), _import_into_export),
    _refused(
        "import-into-is-results",
        h._export(h._prop()),
        _import_into_results,
        blame="patches_checked.gpkg",
    ),
    _refused("lab-into-is-lab-file", h._lab(h.LAB_HEAD), _lab_into_lab),
    # all maps of map --by or none: one group's target is a folder (never replaced)
    Case(
        "outputs", "map-by-one-target-is-a-folder", _districts, _map_by_one_blocked, 3, blame="out"
    ),
]
"""Outputs that cannot be written; ``mount`` runs them on a tmpfs (ro, full or just another)."""

CASES = _cases()


# --------------------------------------------------------------------------------- runner


@pytest.fixture(scope="session")
def goods(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile-good")
    found = h.build_good(folder)
    found["zipped"] = h.good_results_zip(folder, found)
    return found


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _leftovers(root: Path) -> list[str]:
    """Staged or temporary files anywhere under ``root`` (our staging: ``.name.xxxx`` folders)."""
    return [
        str(p)
        for p in root.rglob("*")
        if p.name.startswith(".") or p.suffix in (".tmp", ".part") or "linyuan-zip" in p.name
    ]


STAGED = re.compile(r"/\.[^/\s]+\.[a-z0-9_]{8}/")
"""A path inside a staging folder (``.r.gpkg.k3j2x9_a/``) of :mod:`gis.io.outputs`."""


def _can_mount() -> str | None:
    if sys.platform != "linux" or os.geteuid() != 0 or not shutil.which("unshare"):
        return "needs Linux, root and unshare(1) for tmpfs mounts in a private namespace"
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    return None if probe.returncode == 0 else f"unshare -m fails here: {probe.stderr!r}"


MOUNT_OPTIONS = {"ro": "ro,size=1m", "full": "size=12k", "rw": "size=64m"}


def _run_mounted(
    case: Case, args: list[str], out: Path, env: dict[str, str]
) -> tuple[int, str, list[str]]:
    """Run the CLI with ``out`` a fresh tmpfs; return exit code, output and what it left there."""
    reason = _can_mount()
    if reason:
        pytest.skip(reason)
    listing = out.parent / "listing.txt"
    script = (
        f'mount -t tmpfs -o {MOUNT_OPTIONS[case.mount or "rw"]} tmpfs "$1" || exit 99; shift; '
        f'"$@"; rc=$?; find "{out}" -mindepth 1 -printf "%P\\n" > "{listing}"; exit $rc'
    )
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", str(out), sys.executable, "-m", "gis", *args],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )
    assert proc.returncode != 99, proc.stderr
    left = listing.read_text(encoding="utf-8").split()
    listing.unlink()
    return proc.returncode, proc.stdout + proc.stderr, left


def _unexpected(root: Path, found: list[str], patterns: tuple[str, ...]) -> list[str]:
    """Paths (relative to ``root``) outside ``in/`` that no pattern allows.

    Patterns are relative to ``out/``; ``../x`` names a path beside it (``../local/r.gpkg``).
    """
    wanted = [pat[3:] if pat.startswith("../") else f"out/{pat}" for pat in patterns]
    found = found + [
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.parts[len(root.parts)] != "in"
    ]
    return [f for f in found if not any(fnmatch.fnmatch(f, pat) for pat in wanted)]


def _params() -> list[Any]:
    return [pytest.param(c, id=c.id, marks=c.marks) for c in CASES]


@pytest.mark.parametrize("case", _params())
def test_hostile(
    case: Case, goods: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = h.Ctx(tmp_path / "in", tmp_path / "out", goods)
    ctx.inp.mkdir()
    ctx.out.mkdir()
    culprit = case.make(ctx)
    args = case.args(ctx, culprit)
    before = _hashes(ctx.inp)
    mounted: list[str] = []
    if case.mount:
        code, output, left = _run_mounted(case, args, ctx.out, case.env)
        mounted = [f"out/{name}" for name in left]
    else:
        for key, value in case.env.items():
            monkeypatch.setenv(key, value)
        result = CliRunner().invoke(cli, args)
        code, output = result.exit_code, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert code == case.code, f"exit {code}, expected {case.code}:\n{output[-3000:]}"
    assert "Traceback" not in output, output[-3000:]
    assert not STAGED.search(output), f"a staged file is named, not its target:\n{output[-3000:]}"
    if code != 0:
        named = str(ctx.out) if case.blame == "out" else case.blame or culprit.name
        assert any(n in output for n in named.split("|")), f"{named} not in:\n{output[-3000:]}"
    says = {"ro": "只读", "full": "磁盘已满"}.get(case.mount or "", case.says)  # 中文 text
    assert says is None or says in output, f"{says!r} not said in:\n{output[-3000:]}"
    if case.finding:
        codes = pyogrio.read_dataframe(ctx.out / case.allowed[0], layer="findings")["code"]
        assert case.finding in set(codes), f"{case.finding} not among the findings {set(codes)}"
    assert _hashes(ctx.inp) == before, "an input was modified, replaced or added to"
    assert not _leftovers(tmp_path), _leftovers(tmp_path)
    allowed = case.allowed if code in (0, 1) or case.allowed else ()
    extra = _unexpected(tmp_path, mounted, allowed)
    assert not extra, f"partial output, or output beside the targets: {extra}"


def test_corpus_is_large_and_covers_every_kind() -> None:
    kinds = {c.kind for c in CASES}
    assert len(CASES) >= 150
    assert kinds == {"vectors", "zips", "rasters", "field", "lab", "fire", "outputs", "delivered"}
    assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"


def test_map_by_values_that_clean_to_one_name_get_distinct_files(tmp_path: Path) -> None:
    layer = h.frame([(h.X0, h.Y0), (h.X0 + 200, h.Y0), (h.X0 + 400, h.Y0)])
    layer["district"] = ["朝阳区/南湖", "朝阳区_南湖", "南关区"]
    source = h.write_layer(layer, tmp_path / "in.gpkg")
    out = tmp_path / "out" / "m.html"
    result = CliRunner().invoke(cli, ["map", str(source), "--out", str(out), "--by", "district"])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in out.parent.iterdir())
    assert len(written) == 3, written
    assert "m_朝阳区_南湖.html" in written and "m_南关区.html" in written
    assert sum(name.startswith("m_朝阳区_南湖_") for name in written) == 1


def test_map_by_writes_all_maps_or_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layer = h.frame([(h.X0, h.Y0), (h.X0 + 200, h.Y0), (h.X0 + 400, h.Y0)])
    layer["district"] = ["南关区", "朝阳区", "绿园区"]
    source = h.write_layer(layer, tmp_path / "in.gpkg")
    out = tmp_path / "out" / "m.html"
    out.parent.mkdir()
    (out.parent / "m_南关区.html").write_text("an earlier map")
    real, calls = FieldMap.save, []

    def save(self: FieldMap, outfile: Any, *args: Any, **kwargs: Any) -> int:
        calls.append(outfile)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(outfile))
        return real(self, outfile, *args, **kwargs)

    monkeypatch.setattr(FieldMap, "save", save)
    args = ["map", str(source), "--out", str(out), "--by", "district", "--overwrite"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 3, result.output
    assert "磁盘已满" in result.output and str(out.parent) in result.output
    assert ".m_" not in result.output  # the target is named, not its staged file
    assert sorted(p.name for p in out.parent.iterdir()) == ["m_南关区.html"]
    assert (out.parent / "m_南关区.html").read_text() == "an earlier map"
    monkeypatch.setattr(FieldMap, "save", real)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert len(list(out.parent.iterdir())) == 3
