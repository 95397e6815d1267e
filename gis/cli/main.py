"""Entry point of the ``linyuan`` command line.

Exit codes, the same for every command: 0 done and clean; 1 done, but error-level findings or
rejected records; 2 usage error (click's own); 3 input that cannot be read or used.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from gis import __version__
from gis.cli.logs import FindingFormatter, set_lang
from gis.errors import GisError

EXIT_FINDINGS = 1
EXIT_INPUT = 3


class LinyuanGroup(click.Group):
    """A click group that turns :class:`GisError` into one clear message and exit 3."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; show our errors without a traceback unless ``-v`` was given."""
        try:
            return super().invoke(ctx)
        except GisError as exc:
            if ctx.obj and ctx.obj.get("verbose", 0) > 0:
                logging.getLogger("gis").exception("traceback")
            click.echo(f"错误 / Error: {exc}", err=True)
            ctx.exit(EXIT_INPUT)


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
