"""``python -m gis`` runs the ``linyuan`` command line."""

from gis.cli.main import cli

if __name__ == "__main__":
    cli(prog_name="linyuan")
