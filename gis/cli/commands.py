"""The list of ``linyuan`` commands; each lives in its own module under :mod:`gis.cli`."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
