"""Entry point of the ``linyuan`` command line.

Exit codes, the same for every command: 0 done and clean; 1 done, but error-level findings or
rejected records; 2 usage error (click's own); 3 input that cannot be read or used, or an
output that cannot be written (read-only, no permission, disk full, another filesystem);
4 an internal error (a bug: one line, ``-v`` shows the traceback; please report it).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from gis import __version__
from gis.cli.logs import FindingFormatter, current_lang, error_prefix, set_lang
from gis.enums import Lang
from gis.errors import GisError, os_reason

EXIT_FINDINGS = 1
EXIT_INPUT = 3
EXIT_BUG = 4


class LinyuanGroup(click.Group):
    """A click group that turns :class:`GisError` into one clear message and exit 3."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; show our errors without a traceback unless ``-v`` was given."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except GisError as exc:
            _fail(ctx, f"{error_prefix()}{exc}", EXIT_INPUT)
        except OSError as exc:  # an input or output the system refuses: not a bug
            en, zh = os_reason(exc)  # both: scripts and the hostile suite look for the English
            where = exc.filename or "a file"
            _fail(ctx, f"{error_prefix()}{where}: {en}（{zh}）", EXIT_INPUT)
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


@click.group(cls=LinyuanGroup)
@click.version_option(__version__, prog_name="linyuan")
@click.option("-v", "--verbose", count=True, help="More log output; -v also shows tracebacks.")
@click.option("-q", "--quiet", count=True, help="Less log output.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: int) -> None:
    """Linyuan (林园): checks, field maps and reports for a forestry and landscape bureau."""
    level = logging.WARNING - 10 * verbose + 10 * quiet
    set_lang("zh")  # each command starts in Chinese; its --lang (parsed after this) may change it
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(FindingFormatter("%(message)s"))
    logging.basicConfig(handlers=[handler], level=max(logging.DEBUG, level))
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose


def _register() -> None:
    from gis.cli import commands

    for command in commands.COMMANDS:
        cli.add_command(command)


_register()
