"""The list of ``linyuan`` commands; each lives in its own module under :mod:`gis.cli`."""

from __future__ import annotations

import click

from gis.cli.check import check
from gis.cli.demo import demo
from gis.cli.detect import detect
from gis.cli.export import export
from gis.cli.fire import fire
from gis.cli.greenery import greenery
from gis.cli.map import map_command
from gis.cli.report import report
from gis.cli.validate import validate
from gis.cli.verify import verify

COMMANDS: list[click.Command] = []
COMMANDS.append(validate)
COMMANDS.append(map_command)
COMMANDS.append(check)
COMMANDS.append(greenery)
COMMANDS.append(detect)
COMMANDS.append(demo)
COMMANDS.append(verify)
COMMANDS.append(report)
COMMANDS.append(export)
COMMANDS.append(fire)
