"""Input paths and their checksums, taken ahead of time on a background thread."""

from __future__ import annotations

import hashlib
import os

import pytest

from gis import paths
from gis.paths import input_files, prefetch_checksums, sha256_of, split_layer


def _sha(*blobs: bytes) -> str:
    digest = hashlib.sha256()
    for b in blobs:
        digest.update(b)
    return digest.hexdigest()


def test_a_prefetched_digest_is_the_files_and_is_taken_once(tmp_path):
    f = tmp_path / "before.tif"
    f.write_bytes(b"x" * 3_000_000)
    before = set(paths._AHEAD)
    with prefetch_checksums([f, None, "/vsicurl/https://h/a.tif", tmp_path / "missing.gpkg"]):
        # None, remote and missing paths are skipped
        assert set(paths._AHEAD) - before == {os.fspath(f)}
        assert sha256_of(f) == _sha(b"x" * 3_000_000)
        assert os.fspath(f) not in paths._AHEAD
        assert sha256_of(f) == _sha(b"x" * 3_000_000)  # read again


def test_digests_not_taken_are_dropped_when_the_command_ends(tmp_path):
    f = tmp_path / "patches.gpkg"
    f.write_bytes(b"never hashed by the run")
    with pytest.raises(SystemExit):
        with prefetch_checksums([f]):
            assert os.fspath(f) in paths._AHEAD
            raise SystemExit(3)  # a bad input stops the command before the run table
    assert os.fspath(f) not in paths._AHEAD


def test_a_file_changed_after_the_prefetch_is_read_again(tmp_path):
    f = tmp_path / "after.tif"
    f.write_bytes(b"old")
    with prefetch_checksums([f]):
        paths._AHEAD[os.fspath(f)][1].result()  # its digest is taken
        f.write_bytes(b"newer bytes")
        assert sha256_of(f) == _sha(b"newer bytes")


def test_folders_lists_and_layers_count_every_file(tmp_path):
    safe = tmp_path / "S2.SAFE"
    (safe / "GRANULE").mkdir(parents=True)
    (safe / "MTD.xml").write_bytes(b"m")
    (safe / "GRANULE" / "B04.jp2").write_bytes(b"b")
    a, b = tmp_path / "a.tif", tmp_path / "b.tif"
    a.write_bytes(b"A")
    b.write_bytes(b"B")
    assert input_files(safe) == [safe / "GRANULE" / "B04.jp2", safe / "MTD.xml"]
    prefetch_checksums([safe, f"{a},{b}"])
    assert sha256_of(safe) == _sha(b"b", b"m")
    assert sha256_of(f"{a},{b}") == _sha(b"A", b"B")
    assert split_layer(f"{a}|layername=督查图斑") == (str(a), "督查图斑")
    assert sha256_of(f"{a}|layername=督查图斑") == _sha(b"A")


def test_a_missing_input_fails_where_it_is_read(tmp_path):
    prefetch_checksums([tmp_path / "gone.tif"])
    with pytest.raises(OSError):
        sha256_of(tmp_path / "gone.tif")
