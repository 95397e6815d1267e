"""Usage errors of the command line (exit 2) in Chinese by default, English with ``--lang en``.

click prints its usage errors in English. :class:`gis.cli.main.LinyuanGroup` hands every
:class:`click.UsageError` to :func:`localized`, which wraps it in :class:`ChineseUsageError`
unless the command line asks for ``--lang en`` (read from the arguments, since a usage error
may come before ``--lang`` was parsed). The Chinese text is built from the exception's type and
attributes (``param``, ``param_hint``, ``option_name``, ``possibilities``); the project's own
messages carry theirs (:class:`ZhBadParameter`, :class:`ZhUsageError`).

Examples
--------
>>> argv_lang(["check", "patches", "a.shp", "--lang", "en"])
<Lang.EN: 'en'>
>>> argv_lang(["check", "patches", "--lang=zh"])
<Lang.ZH: 'zh'>
>>> argv_lang(["check", "--", "--lang", "en"]) is None
True
>>> chinese_message(click.NoSuchOption("--fo", possibilities=["--foo"]))
'没有这个选项：--fo（是否想用 --foo？）'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import IO, Any

import click

from gis.enums import Lang

_EXTRA = re.compile(r"^Got unexpected extra arguments? \((?P<args>.*)\)$")
#: click's :class:`click.Path` failures carry the file name in their text only
_PATH = re.compile(r"^\w+ (?P<name>'.*'|\".*\") (?P<what>[a-z ]+)\.$")
#: the value click quotes first in its own type messages (``'x' is not one of …``, ``0 is not …``)
_GIVEN = re.compile(r"^(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\S+) is not ")
_PATH_ZH = {
    "does not exist": "不存在",
    "is a file": "是文件，不是文件夹",
    "is a directory": "是文件夹，不是文件",
    "is not readable": "不可读",
    "is not writable": "不可写",
    "is not executable": "不可执行",
}


class ZhBadParameter(click.BadParameter):
    """A :class:`click.BadParameter` that also carries its Chinese text (``zh``)."""

    def __init__(
        self,
        message: str,
        ctx: click.Context | None = None,
        param: click.Parameter | None = None,
        param_hint: str | None = None,
        *,
        zh: str,
    ) -> None:
        super().__init__(message, ctx, param, param_hint)
        self.zh = zh


class ZhUsageError(click.UsageError):
    """A :class:`click.UsageError` that also carries its Chinese text (``zh``)."""

    def __init__(self, message: str, ctx: click.Context | None = None, *, zh: str) -> None:
        super().__init__(message, ctx)
        self.zh = zh


class ChineseUsageError(click.UsageError):
    """A usage error shown in Chinese: usage line, help hint and ``错误：`` line; exit 2."""

    def __init__(self, original: click.UsageError) -> None:
        super().__init__(original.message, original.ctx)
        self.original = original

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the usage, the help hint and the error in Chinese to ``file`` (stderr)."""
        ctx = self.original.ctx
        if ctx is not None:
            formatter = ctx.make_formatter()
            pieces = ctx.command.collect_usage_pieces(ctx)
            formatter.write_usage(ctx.command_path, " ".join(pieces), "用法：")
            lines = [formatter.getvalue().rstrip("\n")]
            if ctx.command.get_help_option(ctx) is not None:
                lines.append(f"查看帮助：{ctx.command_path} --help")
            click.echo("\n".join(lines) + "\n", file=file, err=True, color=ctx.color)
        click.echo(f"错误：{chinese_message(self.original)}", file=file, err=True)


def argv_lang(argv: Sequence[str]) -> Lang | None:
    """Return the language the arguments ask for with ``--lang`` (the last one), or None."""
    found: Lang | None = None
    for i, token in enumerate(argv):
        if token == "--":
            break
        value = argv[i + 1] if token == "--lang" and i + 1 < len(argv) else None
        if token.startswith("--lang="):
            value = token.split("=", 1)[1]
        if value in ("zh", "en"):
            found = Lang.get(value)
    return found


def localized(exc: click.UsageError, argv: Sequence[str]) -> click.UsageError:
    """Return ``exc`` in the language of ``argv``: wrapped in Chinese unless ``--lang en``."""
    if isinstance(exc, (ChineseUsageError, click.exceptions.NoArgsIsHelpError)):
        return exc
    if argv_lang(argv) is Lang.EN:
        return exc
    return ChineseUsageError(exc)


def chinese_message(exc: click.UsageError) -> str:
    """Return the Chinese text of a usage error (the line after ``错误：``)."""
    if isinstance(exc, ZhUsageError):
        return exc.zh
    if isinstance(exc, click.BadParameter):
        return _bad_parameter(exc)
    if isinstance(exc, (click.NoSuchOption, click.exceptions.NoSuchCommand)):
        kind = "选项" if isinstance(exc, click.NoSuchOption) else "命令"
        name = exc.option_name if isinstance(exc, click.NoSuchOption) else exc.command_name
        return f"没有这个{kind}：{name}{_did_you_mean(exc.possibilities)}"
    if isinstance(exc, click.BadOptionUsage):
        return _option_usage(exc)
    extra = _EXTRA.match(exc.message)
    if extra:  # click raises these two as plain UsageError (ctx.fail) with no attributes
        return f"多余的参数：{extra['args']}"
    if exc.message == "Missing command.":
        return "缺少子命令"
    return exc.message


def _did_you_mean(possibilities: Sequence[str] | None) -> str:
    if not possibilities:
        return ""
    return f"（是否想用 {'、'.join(sorted(possibilities))}？）"


def _hint(exc: click.BadParameter) -> str:
    hint: Any = exc.param_hint
    if hint is None and exc.param is not None:
        hint = exc.param.get_error_hint(exc.ctx)
    if hint is None:
        return ""
    return hint if isinstance(hint, str) else " / ".join(hint)


def _bad_parameter(exc: click.BadParameter) -> str:
    hint = _hint(exc)
    if isinstance(exc, click.MissingParameter):
        kind = exc.param_type or (exc.param.param_type_name if exc.param else "parameter")
        noun = {"argument": "参数", "option": "选项"}.get(kind, "参数")
        choices = _choices(exc.param)
        return f"缺少{noun} {hint}{f'（可选：{choices}）' if choices else ''}".rstrip()
    reason = exc.zh if isinstance(exc, ZhBadParameter) else _type_reason(exc)
    return f"{hint} 的值无效：{reason}" if hint else f"值无效：{reason}"


def _choices(param: click.Parameter | None) -> str:
    if param is None or not isinstance(param.type, click.Choice):
        return ""
    return "、".join(str(c) for c in param.type.choices)


def _type_reason(exc: click.BadParameter) -> str:
    """Say in Chinese why click's own parameter type refused the value, quoting the value.

    Examples
    --------
    >>> param = click.Option(["--engine"], type=click.Choice(["pyogrio", "fiona"]))
    >>> _type_reason(click.BadParameter("'gdal' is not one of 'pyogrio', 'fiona'.", param=param))
    "'gdal' 不是可选值，只能取 pyogrio、fiona 之一"
    """
    kind = exc.param.type if exc.param is not None else None
    given = _GIVEN.match(exc.message)
    value = given["value"] if given else "给出的值"
    if isinstance(kind, click.Choice):
        return f"{value} 不是可选值，只能取 {_choices(exc.param)} 之一"
    if isinstance(kind, (click.IntRange, click.FloatRange)) and "in the range" in exc.message:
        return f"{value} 须在范围 {kind._describe_range()} 内"
    if isinstance(kind, click.types.IntParamType):
        return f"{value} 须为整数"
    if isinstance(kind, click.types.FloatParamType):
        return f"{value} 须为数值"
    if isinstance(kind, click.Path):
        path = _PATH.match(exc.message)
        what = _PATH_ZH.get(path["what"]) if path else None
        return f"路径 {path['name']} {what}" if path and what else "路径不存在或不能使用"
    return exc.message  # another type's own text (the project's types carry Chinese)


def _option_usage(exc: click.BadOptionUsage) -> str:
    ctx = exc.ctx
    params = ctx.command.params if ctx is not None else []
    option = next((p for p in params if exc.option_name in getattr(p, "opts", ())), None)
    if isinstance(option, click.Option) and option.is_flag:
        return f"选项 {exc.option_name} 不接受值"
    nargs = option.nargs if option is not None else 1
    return f"选项 {exc.option_name} 需要{'一个' if nargs == 1 else f' {nargs} 个'}值"
