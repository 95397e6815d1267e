"""String options as enums whose error lists the valid values (shapely's ``ParamEnum``).

Examples
--------
>>> Lang.get("en") is Lang.EN
True
>>> Lang.get("fr")
Traceback (most recent call last):
...
gis.errors.OptionError: unknown language 'fr'; valid values: zh, en
"""

from __future__ import annotations

import enum
from typing import Any, Self

from gis.errors import OptionError


class ParamEnum(enum.StrEnum):
    """Base of Linyuan's string options: :meth:`get` names the option and the valid values.

    Subclasses may override :meth:`describe` (the option's name in the message),
    :meth:`error` (the exception type) and :meth:`normalize` (e.g. case folding).
    """

    @classmethod
    def describe(cls) -> str:
        """Name of the option in error messages."""
        return cls.__name__.lower()

    @classmethod
    def describe_zh(cls) -> str:
        """Name of the option in Chinese error messages (default: :meth:`describe`)."""
        return cls.describe()

    @classmethod
    def error(cls, message: str, zh: str) -> Exception:
        """Exception raised for a value outside the list (``message`` English, ``zh`` Chinese)."""
        return OptionError(message, zh=zh)

    @classmethod
    def valid_label(cls) -> str:
        """Words before the list of valid values."""
        return "valid values"

    @classmethod
    def normalize(cls, value: Any) -> str:
        """Text to look up (the value as given)."""
        return str(value)

    @classmethod
    def get(cls, value: Any) -> Self:
        """Return the member for ``value``; the error lists the valid values."""
        if isinstance(value, cls):
            return value
        try:
            return cls(cls.normalize(value))
        except ValueError:
            valid = ", ".join(m.value for m in cls)
            raise cls.error(
                f"unknown {cls.describe()} {value!r}; {cls.valid_label()}: {valid}",
                f"{cls.describe_zh()} {value!r} 无效；可选值：{valid}",
            ) from None


class Lang(ParamEnum):
    """Language of user-facing text: ``zh`` (中文, the default) or ``en``."""

    ZH = "zh"
    EN = "en"

    @classmethod
    def describe(cls) -> str:
        """Name of the option in error messages."""
        return "language"

    @classmethod
    def describe_zh(cls) -> str:
        """Name of the option in Chinese error messages."""
        return "语言"


class GroupBy(ParamEnum):
    """``linyuan verify status --by`` values: the results column each maps to is :attr:`column`.

    Used by :func:`gis.verify.status.verification_status` (and re-exported there); here so
    that the command's ``--help`` lists the values without loading pandas.
    """

    DISTRICT = "district"
    TOWNSHIP = "township"
    FOREST_CHIEF = "forest-chief"
    BATCH = "batch"

    @property
    def column(self) -> str:
        """The results column of this grouping."""
        return self.value.replace("-", "_")

    @classmethod
    def describe(cls) -> str:
        """Name of the option in error messages."""
        return "grouping"

    @classmethod
    def describe_zh(cls) -> str:
        """Name of the option in Chinese error messages."""
        return "分组"
