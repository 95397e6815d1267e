"""Progress of the long steps: the library reports ``(done, total)``, the command line shows it.

The shape is :mod:`logging`'s. A long step names itself with :func:`step` (its label in both
languages) and gets a plain callback ``progress(done, total)`` — or ``None`` when nobody
watches, so a step costs one ``is not None`` test per window. The cores that loop over
windows, tasks or records (:func:`gis.zonal.change_stats`, the discolored passes,
:func:`gis.distributed.map_ordered` …) take that callback as a parameter and know nothing
of terminals. Only the command line installs a display (:func:`showing`): :class:`Bars`,
tqdm bars on stderr with labels in ``--lang``, and :class:`LogHandler` writing the log
lines above them; it does not when stderr is not a terminal or with ``--quiet``. Progress
never changes a result.

Examples
--------
>>> seen = []
>>> class Record:
...     def start(self, label, zh):
...         return Recorder(label)
>>> class Recorder:
...     def __init__(self, label):
...         self.label = label
...     def update(self, done, total):
...         seen.append((self.label, done, total))
...     def close(self):
...         seen.append((self.label, "closed"))
>>> with step("windows", zh="窗口") as progress:
...     progress is None
True
>>> with showing(Record()), step("windows", zh="窗口") as progress:
...     for done in (1, 2):
...         progress(done, 2)
>>> seen
[('windows', 1, 2), ('windows', 2, 2), ('windows', 'closed')]
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, Protocol, TypeVar

from tqdm import tqdm

T = TypeVar("T")
Progress = Callable[[int, int], None]
"""A progress callback: ``progress(done, total)`` after each window, task or record."""


class Bar(Protocol):
    """One step's progress as a display shows it."""

    def update(self, done: int, total: int) -> None:
        """Show that ``done`` of ``total`` items are finished."""

    def close(self) -> None:
        """End the step."""


class Display(Protocol):
    """Where progress goes: starts a :class:`Bar` per step."""

    def start(self, label: str, zh: str) -> Bar:
        """Return the bar of a step labelled ``label`` (English) / ``zh`` (Chinese)."""


_STATE: dict[str, Display | None] = {"display": None}
# a module-level slot, not a ContextVar: a step may be opened in a worker thread


@contextlib.contextmanager
def showing(display: Display | None) -> Iterator[None]:
    """Send the progress of the steps run inside this block to ``display`` (None: nowhere)."""
    before = _STATE["display"]
    _STATE["display"] = display
    try:
        yield
    finally:
        _STATE["display"] = before


@contextlib.contextmanager
def step(label: str, *, zh: str) -> Iterator[Progress | None]:
    """Open a long step; yield its progress callback, or ``None`` when nothing is shown.

    Parameters
    ----------
    label : str
        The step in English (``"raster windows"``).
    zh : str
        The step in Chinese (``"栅格窗口"``), shown by default.
    """
    display = _STATE["display"]
    if display is None:
        yield None
        return
    bar = display.start(label, zh)
    try:
        yield bar.update
    finally:
        bar.close()


def counted(items: Iterable[T], progress: Progress | None, total: int) -> Iterator[T]:
    """Yield ``items``, reporting each one yielded as done of ``total`` to ``progress``.

    Examples
    --------
    >>> calls = []
    >>> list(counted("ab", lambda done, total: calls.append((done, total)), 2)), calls
    (['a', 'b'], [(1, 2), (2, 2)])
    """
    if progress is None:
        yield from items
        return
    for done, item in enumerate(items, 1):
        yield item
        progress(done, total)


REPORTS = 1000
"""At most about this many reports per :func:`ticker` (one per item below it)."""


def ticker(progress: Progress | None, total: int) -> Callable[[], None] | None:
    """Return a thread-safe ``tick()`` counting one more of ``total`` items done.

    For loops whose items finish on several threads. ``progress`` hears of every item, or
    of every ``total // REPORTS``-th and the last when there are many (200 000 patches:
    1000 reports, not 200 000). ``None`` when ``progress`` is.

    Examples
    --------
    >>> calls = []
    >>> tick = ticker(lambda done, total: calls.append((done, total)), 2)
    >>> tick(); tick(); calls
    [(1, 2), (2, 2)]
    >>> calls = []
    >>> tick = ticker(lambda done, total: calls.append(done), 5000)
    >>> for _ in range(5000):
    ...     tick()
    >>> len(calls), calls[:2], calls[-1]
    (1000, [5, 10], 5000)
    >>> ticker(None, 2) is None
    True
    """
    if progress is None:
        return None
    lock = threading.Lock()
    count = [0]
    every = max(1, total // REPORTS)

    def tick() -> None:
        with lock:
            count[0] += 1
            if count[0] % every == 0 or count[0] == total:
                progress(count[0], total)

    return tick


class Bars:
    """A tqdm bar on ``stream`` per step, labelled in the language ``lang()`` returns.

    Parameters
    ----------
    stream : file
        Where the bars are drawn (the command line's stderr).
    lang : callable
        Returns ``"zh"`` or ``"en"`` (anything whose ``str`` is) when a step starts.
    """

    def __init__(self, stream: IO[str], lang: Callable[[], Any]) -> None:
        self.stream = stream
        self.lang = lang

    def start(self, label: str, zh: str) -> _TqdmBar:
        """Return the bar of a step; it appears at the step's first report, gone at its end."""
        return _TqdmBar(label if str(self.lang()) == "en" else zh, self.stream)


class _TqdmBar:
    """A tqdm bar updated with absolute ``(done, total)``, from any thread."""

    FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]"

    def __init__(self, desc: str, stream: IO[str]) -> None:
        self.desc = desc
        self.stream = stream
        self.bar: Any = None
        self.lock = threading.Lock()

    def update(self, done: int, total: int) -> None:
        with self.lock:
            if self.bar is None:
                self.bar = tqdm(
                    desc=self.desc,
                    total=total,
                    file=self.stream,
                    leave=False,
                    dynamic_ncols=True,
                    bar_format=self.FORMAT,
                    initial=done,
                )
                return
            if done < self.bar.n:  # the step counts a second run (another total) from 1
                self.bar.reset(total=total)
            elif self.bar.total != total:
                self.bar.total = total
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        with self.lock:
            if self.bar is not None:
                self.bar.close()


class LogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Write log lines above the bars (``tqdm.write``), so that a bar never cuts a line."""

    def emit(self, record: logging.LogRecord) -> None:
        """Write the formatted record to the handler's stream through tqdm."""
        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:  # logging's rule: a failing handler never stops the program
            self.handleError(record)
