"""`linyuan demo` and a Word report on a machine with no CJK font, as on a fresh office PC.

The system fonts are hidden by mounting an empty tmpfs over /usr/share/fonts in a private
mount namespace (``unshare -m``), with a fresh matplotlib cache: pointing fontconfig at an empty
set is not enough, as matplotlib scans the font folders itself. This needs root (CI runs as
root) and util-linux's ``unshare``; elsewhere the test is skipped with the reason.
The output folder has Chinese characters and a space in its name.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from gis.charts import BUNDLED_FAMILY
from gis.report.render import DOCX_EAST_ASIAN_FONT

BIN = Path(sys.executable).parent
FONTS = Path("/usr/share/fonts")


def _why_not() -> str | None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "hiding the system fonts needs root (a private mount namespace)"
    if shutil.which("unshare") is None:
        return "util-linux `unshare` is not installed"
    if not FONTS.is_dir():
        return f"{FONTS} does not exist: nothing to hide"
    return None


PROBE = (
    "from matplotlib import font_manager as fm; from gis.charts import cjk_font; "
    "print(len(fm.findSystemFonts()), cjk_font())"
)


@pytest.mark.skipif(_why_not() is not None, reason=str(_why_not()))
def test_demo_and_docx_report_render_chinese_with_the_system_fonts_hidden(tmp_path: Path) -> None:
    out = tmp_path / "演示 输出"
    docx_out = out / "reports" / "绿化 报告.docx"
    results = out / "results"
    q = shlex.quote
    linyuan = q(str(BIN / "linyuan"))
    steps = [
        f"mount -t tmpfs none {FONTS}",
        f"{q(sys.executable)} -c {q(PROBE)}",
        f"{linyuan} demo --out {q(str(out))}",
        (
            f"{linyuan} report greenery {q(str(results / 'kpi.gpkg'))} "
            f"--coverage {q(str(results / 'coverage.gpkg'))} --out {q(str(docx_out))}"
        ),
    ]
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / "mpl")}
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", " && ".join(steps)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert done.stdout.splitlines()[0] == f"0 {BUNDLED_FAMILY}"  # no system font, bundled one
    assert "Glyph" not in log and "FontWarning" not in log
    titles = {
        "patches": "图斑核查",
        "discolored": "变色立木",
        "greening": "绿化工作",
        "fire": "森林防火",
    }
    for name, title in titles.items():
        line = next(x for x in done.stdout.splitlines() if x.strip().startswith(f"报告：{title}"))
        assert " 正常 " in line, line
        html = (out / "reports" / f"{name}_report.html").read_text(encoding="utf-8")
        assert "data:image/png;base64," in html
    with zipfile.ZipFile(docx_out) as zf:
        document = zf.read("word/document.xml").decode()
        styles = zf.read("word/styles.xml").decode()
        pictures = [n for n in zf.namelist() if n.startswith("word/media/")]
    assert pictures, "the DOCX has no chart pictures"
    assert f'w:eastAsia="{DOCX_EAST_ASIAN_FONT}"' in styles
    assert "绿" in document
