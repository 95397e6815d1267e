"""Entry point of the ``linyuan`` command line.

Exit codes, the same for every command: 0 done and clean; 1 done, but error-level findings or
rejected records; 2 usage error (click's, in Chinese unless ``--lang en``); 3 input that cannot
be read or used, or an output that cannot be written (read-only, no permission, disk full,
another filesystem); 4 an internal error (a bug: one line, ``-v`` shows the traceback;
please report it).
"""

from __future__ import annotations

import gc
import importlib
import logging
import sys
from collections.abc import Mapping
from typing import Any

import click

from gis import __version__
from gis.cli.commands import COMMANDS, Entry
from gis.cli.logs import FindingFormatter, current_lang, error_prefix, set_lang
from gis.cli.usage import localized
from gis.enums import Lang
from gis.errors import GisError, os_reason

EXIT_FINDINGS = 1
EXIT_INPUT = 3
EXIT_BUG = 4

FULL_COLLECTION_EVERY = 100
"""Younger collections between two full ones in a ``linyuan`` process (Python's default: 10)."""


class LinyuanGroup(click.Group):
    """A click group that loads its commands lazily and turns :class:`GisError` into exit 3.

    Usage errors (exit 2) are shown in Chinese unless the arguments say ``--lang en``
    (:func:`gis.cli.usage.localized`).

    Commands come from a table (:data:`gis.cli.commands.COMMANDS`): a command's module is
    imported only when that command is invoked (or its own ``--help`` is asked for), as in
    click's "Lazily Loading Subcommands"; the group's ``--help`` lists them from the table.
    """

    def __init__(self, *args: Any, lazy_commands: Mapping[str, Entry] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})
        self.argv: list[str] = []

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        """Run the command line; on the process's own arguments, tune its garbage collector.

        Run on the process's own arguments (``args`` not given: the ``linyuan`` console script,
        ``python -m gis``), a command is the whole life of the process, which holds a large,
        long-lived heap (modules, frames of tens of thousands of rows): a full collection
        comes after :data:`FULL_COLLECTION_EVERY` younger ones instead of 10 (each rescans
        that heap: six of them were 0.4 s of a 50 000-patch check; young cycles are still
        collected as usual), and the objects are frozen out of the collector as the command
        ends (:func:`gc.freeze`), so the interpreter's final collections do not rescan what
        the command built (another 0.4 s). A caller that passes ``args`` (click's
        ``CliRunner``, a notebook) keeps its collector as it is.
        """
        own = args is None
        if own:
            young, middle, _ = gc.get_threshold()
            gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
        try:
            return super().main(args, *rest, **kwargs)
        finally:
            if own:
                gc.freeze()

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        """Parse the group's own options; remember the arguments for the language of errors."""
        self.argv = list(args)
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise localized(exc, self.argv) from exc

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return the names of the loaded and the not yet loaded commands, sorted."""
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Return the command, importing its module the first time it is asked for."""
        entry = self.lazy_commands.get(cmd_name)
        if entry is not None and cmd_name not in self.commands:
            command = getattr(importlib.import_module(entry.module), entry.attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands with their short help; commands not loaded stay unloaded."""
        rows: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            entry = self.lazy_commands.get(name)
            if name in self.commands or entry is None:
                command = self.get_command(ctx, name)
            else:
                command = click.Command(name, short_help=entry.short_help)
            if command is not None and not command.hidden:
                rows.append((name, command))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(n, c.get_short_help_str(limit)) for n, c in rows])

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; show our errors without a traceback unless ``-v`` was given."""
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # click's and ours: Chinese unless --lang en
            raise localized(exc, self.argv) from exc
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except GisError as exc:  # its text in --lang (English where no Chinese was written)
            _fail(ctx, f"{error_prefix()}{exc.text(current_lang().value)}", EXIT_INPUT)
        except OSError as exc:  # an input or output the system refuses: not a bug
            en, zh = os_reason(exc)
            if current_lang() is Lang.ZH:
                _fail(ctx, f"{error_prefix()}{exc.filename or '文件'}：{zh}", EXIT_INPUT)
            _fail(ctx, f"{error_prefix()}{exc.filename or 'a file'}: {en}", EXIT_INPUT)
        except Exception as exc:  # a bug: one line, the traceback with -v
            text = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            if current_lang() is Lang.ZH:
                _fail(ctx, f"内部错误：{text}——请加 -v 重新运行查看详情并报告", EXIT_BUG)
            _fail(
                ctx,
                f"Internal error: {text} — rerun with -v for the traceback and report it",
                EXIT_BUG,
            )


def _fail(ctx: click.Context, message: str, code: int) -> None:
    if ctx.obj and ctx.obj.get("verbose", 0) > 0:
        logging.getLogger("gis").exception("traceback")
    click.echo(message, err=True)
    ctx.exit(code)


@click.group(cls=LinyuanGroup, lazy_commands=COMMANDS)
@click.version_option(__version__, prog_name="linyuan")
@click.option("-v", "--verbose", count=True, help="More log output; -v also shows tracebacks.")
@click.option("-q", "--quiet", count=True, help="Less log output, and no progress bars (进度条).")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: int) -> None:
    """Linyuan (林园): checks, field maps and reports for a forestry and landscape bureau.

    Long steps show progress bars on a terminal (not with -q, nor when stderr is redirected).
    """
    level = logging.WARNING - 10 * verbose + 10 * quiet
    set_lang("zh")  # each command starts in Chinese; its --lang (parsed after this) may change it
    bars = quiet == 0 and bool(getattr(sys.stderr, "isatty", lambda: False)())
    handler = _progress_handler() if bars else logging.StreamHandler(sys.stderr)
    handler.setFormatter(FindingFormatter("%(message)s"))
    logging.basicConfig(handlers=[handler], level=max(logging.DEBUG, level))
    if bars:
        ctx.with_resource(_progress_bars())
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose


def _progress_handler() -> logging.Handler:
    # deferred: tqdm (~40 ms) is imported only when bars are shown, not for --help in a pipe
    from gis.progress import LogHandler

    return LogHandler(sys.stderr)


def _progress_bars() -> Any:
    # deferred: see _progress_handler
    from gis.progress import Bars, showing

    return showing(Bars(sys.stderr, current_lang))
