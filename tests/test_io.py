"""Atomic output: an interrupted write leaves the previous file intact."""

from __future__ import annotations

import pytest

from recfusion import _io


def test_failed_write_keeps_previous_file(tmp_path):
    target = tmp_path / "out.csv"
    _io.write_text(target, "old\n")
    with pytest.raises(RuntimeError):
        with _io.atomic_open(target) as handle:
            handle.write("half of the new")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_atomic_directory_replaces_whole_directory(tmp_path):
    target = tmp_path / "model"
    with _io.atomic_directory(target) as work:
        (work / "a.txt").write_text("1")
    with pytest.raises(RuntimeError):
        with _io.atomic_directory(target) as work:
            (work / "b.txt").write_text("2")
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
