"""Real-browser harness: Playwright's sync API driving Debian's /usr/bin/chromium.

Never ``playwright install``: the browser is the distribution's package (``.ci/system-packages``
installs it). Without it the browser tests skip locally, and fail in CI (``CI=true``), where a
missing browser is a broken machine, not a reason to pass.

The fixtures (``playwright_api``, ``browser``) are imported once, by ``conftest.py``: one browser
for the session (a test module importing them again would start a second Playwright, which
fails). Test modules import the helpers::

    from browser import canvas_ink, click_latlng, open_map
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
ALLOWED_SCHEMES = ("data:", "blob:", "file:")
READY = "() => window.__ready !== undefined"


def require_chromium() -> Path:
    """Return the Chromium path; skip (locally) or fail (in CI) when it is missing."""
    if CHROMIUM.exists():
        return CHROMIUM
    reason = f"{CHROMIUM} not found: install Debian's chromium package (.ci/system-packages)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def playwright_api() -> Iterator[Any]:
    """The started Playwright driver (sync API)."""
    require_chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as api:
        yield api


@pytest.fixture(scope="session")
def browser(playwright_api: Any) -> Iterator[Any]:
    """One headless Chromium for the whole session."""
    instance = playwright_api.chromium.launch(
        executable_path=str(CHROMIUM), args=list(LAUNCH_ARGS), headless=True
    )
    yield instance
    instance.close()


@dataclass
class PageLog:
    """What a page did: every request URL, dialogs it opened, errors it threw."""

    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        """Requests whose URL is not ``data:``, ``blob:`` or ``file:``."""
        return [u for u in self.requests if not u.startswith(ALLOWED_SCHEMES)]


def watch(context: Any) -> PageLog:
    """Record requests of ``context``; abort any that would leave the machine."""
    log = PageLog()

    def on_route(route: Any) -> None:
        url = route.request.url
        log.requests.append(url)
        if url.startswith(ALLOWED_SCHEMES):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", on_route)
    context.on("request", lambda r: None if r.url in log.requests else log.requests.append(r.url))
    return log


def attach(page: Any, log: PageLog) -> None:
    """Record dialogs (and dismiss them), page errors and console messages."""

    def on_dialog(dialog: Any) -> None:
        log.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: log.errors.append(str(exc)))
    page.on("console", lambda msg: log.console.append(f"{msg.type}: {msg.text}"))


def open_map(
    browser: Any, path: Path, *, timeout_ms: float = 30_000, **context_options: Any
) -> tuple[Any, Any, PageLog]:
    """Open a map file in a fresh context; return (context, page, log) once it is ready."""
    context = browser.new_context(**context_options)
    log = watch(context)
    page = context.new_page()
    attach(page, log)
    page.goto(path.resolve().as_uri())
    page.wait_for_function(READY, timeout=timeout_ms)
    return context, page, log


def canvas_ink(page: Any) -> int:
    """Number of non-transparent pixels on the map's overlay canvas."""
    return int(
        page.evaluate(
            """() => {
            const canvas = document.querySelector('.leaflet-overlay-pane canvas');
            if (!canvas) { return 0; }
            const data = canvas.getContext('2d')
                .getImageData(0, 0, canvas.width, canvas.height).data;
            let ink = 0;
            for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) { ink++; } }
            return ink;
        }"""
        )
    )


def click_latlng(page: Any, lat: float, lon: float) -> None:
    """Click the map at a geographic position (closes any popup and centres it first)."""
    point = page.evaluate(
        """([lat, lon]) => {
            const map = window.__map;
            map.closePopup();
            map.setView([lat, lon], map.getZoom(), { animate: false });
            const p = map.latLngToContainerPoint([lat, lon]);
            const box = map.getContainer().getBoundingClientRect();
            return [box.left + p.x, box.top + p.y];
        }""",
        [lat, lon],
    )
    page.mouse.click(point[0], point[1])
