"""Which packages and files the wheel holds; the rest of the build is in pyproject.toml.

The repository keeps ``layers/`` and ``notebooks/`` at its root, where the README, the docs and
users refer to them. A wheel carries every file of both folders inside the package, as
``gis/_data/layers/...`` and ``gis/_data/notebooks/...``, where
:func:`gis.resources.resource_path` finds them. The folders become packages mapped from
outside ``gis/``, which must be listed by name, and pyproject.toml can either list packages or
discover them, not both: so this file discovers the ``gis`` packages and adds the mapped ones.
"""

from setuptools import find_namespace_packages, setup

SHIPPED = ("layers", "notebooks")  # = gis.resources.SHIPPED
PACKAGED = "gis._data"  # = gis/ + gis.resources.PACKAGED_DIR


def data_packages(folder: str) -> dict[str, str]:
    """Map the package name of ``folder`` and of each folder below it to its path."""
    subfolders = find_namespace_packages(where=folder)
    return {
        f"{PACKAGED}.{folder}": folder,
        **{f"{PACKAGED}.{folder}.{sub}": f"{folder}/{sub.replace('.', '/')}" for sub in subfolders},
    }


mapped = {name: path for folder in SHIPPED for name, path in data_packages(folder).items()}

setup(
    packages=[*find_namespace_packages(include=["gis*"]), *mapped],
    package_dir=mapped,
    package_data={
        "gis": ["py.typed", "fonts/*", "maps/templates/*", "maps/vendor/**/*"],
        **{name: ["*"] for name in mapped},
    },
)
