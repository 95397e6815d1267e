"""What Windows lacks is never imported by Linyuan, and the demo's checks run without it.

A subprocess refuses the POSIX-only standard modules (``resource``, ``fcntl``, ``termios``,
``pwd``, ``grp`` …) to any importer inside ``gis`` (an ``__import__`` hook for import statements
and a meta-path finder for ``importlib.import_module``) —
third-party libraries keep their own platform-dependent imports, as they do on Windows — then
imports every ``gis`` module and runs the demo's checks into a folder whose path has Chinese
characters and spaces.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from gis.demo import run as demo_run

POSIX_ONLY = (
    "resource",
    "fcntl",
    "termios",
    "tty",
    "pty",
    "pwd",
    "grp",
    "syslog",
    "crypt",
    "spwd",
    "nis",
    "posix",
    "_posixsubprocess",
    "_posixshmem",
    "readline",
    "curses",
)

SCRIPT = textwrap.dedent(
    """
    import builtins, importlib, json, pkgutil, sys

    BLOCKED = set(sys.argv[2].split(","))

    def in_gis(name):
        return name == "gis" or name.startswith("gis.")

    def refused(name):
        return ModuleNotFoundError(f"No module named {name!r} (not on Windows)", name=name)

    real_import = builtins.__import__

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        # import statements, also of a module some library has imported already
        who = str((globals or {}).get("__name__", ""))
        if level == 0 and name.split(".")[0] in BLOCKED and in_gis(who):
            raise refused(name)
        return real_import(name, globals, locals, fromlist, level)

    def importer():
        frame = sys._getframe(2)
        while frame is not None and (
            frame.f_code.co_filename.startswith("<frozen")
            or "importlib" in frame.f_code.co_filename
        ):
            frame = frame.f_back
        return "" if frame is None else str(frame.f_globals.get("__name__", ""))

    class RefusePosixOnly:
        # importlib.import_module() of a module not imported yet
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED and in_gis(importer()):
                raise refused(name)
            return None

    for name in BLOCKED:
        if name != "posix":
            sys.modules.pop(name, None)
    sys.meta_path.insert(0, RefusePosixOnly())
    builtins.__import__ = guarded_import

    import gis
    failed = {}
    for mod in pkgutil.walk_packages(gis.__path__, "gis."):
        try:
            importlib.import_module(mod.name)
        except Exception as exc:
            failed[mod.name] = f"{type(exc).__name__}: {exc}"

    from gis.demo import build_demo
    from gis.demo import run as demo_run
    from gis.distributed import peak_memory_mb

    scene = build_demo(sys.argv[1])
    steps = demo_run.validate_layers(scene)
    for step in ("check_patches", "detect_discolored", "greenery_kpi", "greenery_coverage"):
        steps.append(getattr(demo_run, step)(scene))
    print(json.dumps({
        "failed_imports": failed,
        "steps": [[s.name, s.status, s.detail] for s in steps],
        "peak_mb": list(peak_memory_mb(None).values()),
        "resource_blocked": __import__("gis.distributed").distributed.resource is None,
    }, ensure_ascii=False))
    """
)


def _without_posix(script: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh interpreter, POSIX-only modules refused to gis."""
    return subprocess.run(
        [sys.executable, "-c", script, str(folder), ",".join(POSIX_ONLY)],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=folder.parent,
    )


def test_every_module_imports_and_the_demo_checks_run_without_posix_modules(tmp_path: Path):
    out = tmp_path / "林园 演示 输出"
    done = _without_posix(SCRIPT, out)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["failed_imports"] == {}
    assert report["resource_blocked"]  # the fallback for peak memory was the one used
    assert report["peak_mb"][0] > 0
    statuses = {name: status for name, status, _ in report["steps"]}
    assert set(statuses) >= {"check patches", "detect discolored", "greenery kpi"}
    assert all(s in ("clean", "findings") for s in statuses.values()), report["steps"]
    assert (out / "results" / "patches_checked.gpkg").is_file()


def test_blocker_catches_a_posix_import_in_gis(tmp_path: Path):
    """The finder above does refuse a POSIX-only module to gis (so the test above means it)."""
    probe = SCRIPT.split("import gis\n")[0] + "import gis.distributed as d; print(d.resource)"
    done = _without_posix(probe, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None"


def test_demo_reports_a_real_import_error_instead_of_skipping(monkeypatch, tmp_path) -> None:
    def broken(name: str, *args, **kwargs):
        if name.startswith("gis.checks.greenery"):  # wherever the demo finds the KPI check
            raise ModuleNotFoundError("No module named 'resource'", name="resource")
        return real(name, *args, **kwargs)

    real = demo_run.importlib.import_module
    monkeypatch.setattr(demo_run.importlib, "import_module", broken)
    step = demo_run._optional("gis.checks.greenery", "run_greenery_kpi")
    assert step is not None
    with pytest.raises(ModuleNotFoundError, match="resource"):
        step()
    layers = dict.fromkeys(("greenways", "parks", "villages", "districts"))
    scene = SimpleNamespace(layers=layers, out_dir=tmp_path)
    result = demo_run.greenery_kpi(scene, overwrite=False)  # type: ignore[arg-type]
    assert result.status == "failed" and "No module named 'resource'" in result.detail
    assert demo_run._optional("gis.checks.no_such_check", "run") is None  # not there yet
