"""A progress display for tests: keeps every report of every step (:mod:`gis.progress`)."""

from __future__ import annotations

import threading


class Recorder:
    """A display that keeps every report, from any thread: ``reports[label]``, ``closed``."""

    def __init__(self):
        self.reports: dict[str, list[tuple[int, int]]] = {}
        self.closed: list[str] = []
        self.lock = threading.Lock()

    def start(self, label, zh):
        assert zh and label
        self.reports[label] = []
        recorder = self

        class Bar:
            def update(self, done, total):
                with recorder.lock:
                    recorder.reports[label].append((done, total))

            def close(self):
                recorder.closed.append(label)

        return Bar()
