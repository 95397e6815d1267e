"""Usage errors (exit 2) in Chinese by default and in English with ``--lang en``.

Each case runs the real command line (``python -m gis``) in a fresh interpreter: once as
given (Chinese), once with ``--lang en`` appended, and once with ``--lang=en`` before the
offending argument (so the error comes before ``--lang`` would be parsed in order).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from gis.cli.options import SENSORS
from gis.cli.usage import ZhBadParameter, ZhUsageError, argv_lang, chinese_message
from gis.enums import Lang

#: words of click's English templates and of the project's English messages
ENGLISH = re.compile(
    r"\b(Error|Usage|Try|No such|Missing|Invalid|requires|unexpected|Got|Did you mean|is not|"
    r"give|write the report|needs|for help)\b"
)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``linyuan ARGS``; return the finished process (text output)."""
    return subprocess.run(
        [sys.executable, "-m", "gis", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a folder standing for a results folder (the commands fail before reading it)."""
    folder = tmp_path_factory.mktemp("results")
    (folder / "a.gpkg").write_bytes(b"")
    return folder


# (arguments with {r} for the results folder, Chinese error line, English error line)
CASES = [
    pytest.param(
        ["check", "patches", "x.shp", "--befor", "2025"],
        "错误：没有这个选项：--befor（是否想用 --before、--before-mask、--sensor？）",
        "Error: No such option '--befor'. (Did you mean one of: '--before', "
        "'--before-mask', '--sensor'?)",
        id="no-such-option",
    ),
    pytest.param(
        ["check", "patches"],
        "错误：缺少参数 'PATCHES'",
        "Error: Missing argument 'PATCHES'.",
        id="missing-argument",
    ),
    pytest.param(
        ["report", "patches", "{r}"],
        "错误：缺少选项 '--out'",
        "Error: Missing option '--out'.",
        id="missing-option",
    ),
    pytest.param(
        ["check", "patches", "x.shp", "--before", "b.tif", "--engine", "gdal"],
        "错误：'--engine' 的值无效：'gdal' 不是可选值，只能取 pyogrio、fiona 之一",
        "Error: Invalid value for '--engine': 'gdal' is not one of 'pyogrio', 'fiona'.",
        id="invalid-choice",
    ),
    pytest.param(
        ["detect", "discolored", "a.tif", "--sensor", "gf3"],
        f"错误：'--sensor' 的值无效：'gf3' 不是可选值，只能取 {'、'.join(SENSORS)} 之一",
        "Error: Invalid value for '--sensor': 'gf3' is not one of "
        f"{', '.join(map(repr, SENSORS))}.",
        id="invalid-choice-sensor",
    ),
    pytest.param(
        ["check", "patches", "x.shp", "--min-mapping-unit-mu", "abc"],
        "错误：'--min-mapping-unit-mu' 的值无效：'abc' 须为数值",
        "Error: Invalid value for '--min-mapping-unit-mu': 'abc' is not a valid float range.",
        id="invalid-float-in-a-range",
    ),
    pytest.param(
        ["greenery", "kpi", "--year", "2026y"],
        "错误：'--year' 的值无效：'2026y' 须为整数",
        "Error: Invalid value for '--year': '2026y' is not a valid integer.",
        id="invalid-integer",
    ),
    pytest.param(
        ["check", "patches", "x.shp", "--workers", "0"],
        "错误：'--workers' 的值无效：0 须在范围 x>=1 内",
        "Error: Invalid value for '--workers': 0 is not in the range x>=1.",
        id="invalid-range",
    ),
    pytest.param(
        ["check", "patches", "x.shp", "--min-mapping-unit-mu", "0"],
        "错误：'--min-mapping-unit-mu' 的值无效：0.0 须在范围 x>0.0 内",
        "Error: Invalid value for '--min-mapping-unit-mu': 0.0 is not in the range x>0.0.",
        id="mapping-unit-not-positive",
    ),
    pytest.param(
        ["report", "patches", "{r}", "--out", "{r}/r.pdf"],
        "错误：'--out' 的值无效：{r}/r.pdf：报告请写成 .html 或 .docx",
        "Error: Invalid value for '--out': {r}/r.pdf: write the report as .html or .docx",
        id="project-bad-parameter",
    ),
    pytest.param(
        ["report", "patches", "{r}", "--out", "{r}/r.html", "extra"],
        "错误：多余的参数：extra",
        "Error: Got unexpected extra argument (extra)",
        id="extra-argument",
    ),
    pytest.param(
        ["report", "patches", "{r}/missing", "--out", "{r}/r.html"],
        "错误：'RESULTS' 的值无效：路径 '{r}/missing' 不存在",
        "Error: Invalid value for 'RESULTS': Path '{r}/missing' does not exist.",
        id="path-does-not-exist",
    ),
    pytest.param(
        ["report", "nosuch"],
        "错误：没有这个命令：nosuch",
        "Error: No such command 'nosuch'.",
        id="no-such-command",
    ),
    pytest.param(
        ["map", "{r}/a.gpkg", "--out", "{r}/m.html", "--basemap", "tianditu"],
        "错误：--basemap tianditu 需要 --tianditu-key 密钥",
        "Error: --basemap tianditu needs --tianditu-key KEY",
        id="project-usage-error",
    ),
]


@pytest.mark.parametrize(("args", "zh", "en"), CASES)
def test_usage_error_in_chinese(args: list[str], zh: str, en: str, results: Path) -> None:
    """Chinese by default: usage, help hint and error line in Chinese, no English; exit 2."""
    done = run(*(a.format(r=results) for a in args))
    assert done.returncode == 2, done.stderr
    assert zh.format(r=results) in done.stderr.splitlines()
    assert "用法：linyuan " in done.stderr
    assert "查看帮助：linyuan " in done.stderr and " --help" in done.stderr
    assert not ENGLISH.search(done.stderr), done.stderr


@pytest.mark.parametrize(("args", "zh", "en"), CASES)
def test_usage_error_in_english(args: list[str], zh: str, en: str, results: Path) -> None:
    """``--lang en`` keeps click's English text, usage and hint; exit 2."""
    done = run(*(a.format(r=results) for a in args), "--lang", "en")
    assert done.returncode == 2, done.stderr
    assert en.format(r=results) in done.stderr.splitlines()
    assert done.stderr.startswith("Usage: linyuan ")
    assert "for help." in done.stderr
    assert not re.search(r"[\u4e00-\u9fff]", done.stderr.replace(str(results), "")), done.stderr


def test_lang_before_the_error_is_read_from_the_arguments() -> None:
    """``--lang=en`` written before the bad option still gives English (parsed or not)."""
    done = run("check", "patches", "--lang=en", "x.shp", "--befor", "2025")
    assert done.returncode == 2
    assert "Error: No such option '--befor'." in done.stderr
    done = run("check", "patches", "x.shp", "--before")
    assert done.returncode == 2
    assert done.stderr.strip() == "错误：选项 --before 需要一个值"
    done = run("check", "patches", "x.shp", "--lang", "en", "--before")
    assert done.stderr.strip() == "Error: Option '--before' requires an argument."


def test_argv_lang_takes_the_last_lang_before_the_double_dash() -> None:
    """The last ``--lang`` wins; anything after ``--`` is an argument, not an option."""
    assert argv_lang(["--lang", "en", "x", "--lang", "zh"]) is Lang.ZH
    assert argv_lang(["--lang=en"]) is Lang.EN
    assert argv_lang(["--lang"]) is None
    assert argv_lang(["--", "--lang", "en"]) is None


def test_project_messages_carry_chinese() -> None:
    """The project's own usage errors keep their English message and give their Chinese."""
    option = click.Option(["--out"])
    bad = ZhBadParameter("r.pdf: write as .html", param=option, zh="r.pdf：请写成 .html")
    assert bad.format_message() == "Invalid value for '--out': r.pdf: write as .html"
    assert chinese_message(bad) == "'--out' 的值无效：r.pdf：请写成 .html"
    usage = ZhUsageError("give one", zh="只能给一个")
    assert usage.format_message() == "give one"
    assert chinese_message(usage) == "只能给一个"
