"""report.html rendered offline by headless Chromium: tables and images must show."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recfusion.report import write_report
from recfusion.report._sample import STRATEGIES, sample_extras, sample_table

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium not on PATH (install the Debian package 'chromium' to run this test)",
)


def chromium(profile: Path, *arguments: str) -> subprocess.CompletedProcess:
    """Run headless Chromium with networking features off and a fresh profile."""
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile}", *arguments,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """report.html of the synthetic benchmark with every extra."""
    out = tmp_path_factory.mktemp("browser_report")
    return write_report(out, sample_table(), sample_extras())["html"]


def test_dom_contains_tables_rows_and_images(page: Path, tmp_path: Path) -> None:
    result = chromium(tmp_path / "profile", "--dump-dom", page.resolve().as_uri())
    dom = result.stdout.decode("utf-8")
    assert dom.count("<table") >= 8
    assert dom.count('<img src="data:image/png;base64,') == 13
    for name in STRATEGIES:
        assert f'class="name">{name}' in dom


def test_screenshot_shows_a_rendered_page(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,4000",
             page.resolve().as_uri())  # fmt: skip
    with Image.open(shot) as image:
        assert image.size == (1280, 4000)
        pixels = np.asarray(image.convert("RGB"))
    grey = pixels.mean(axis=2)
    # A blank or failed page is uniform; the report has text, shaded cells and charts
    # all the way down the 4000-pixel window.
    packed = (pixels.astype(np.int32) * [65536, 256, 1]).sum(axis=2)
    assert len(np.unique(packed)) > 500
    for band in np.array_split(grey, 4):
        assert (band < 200).mean() > 0.01
    # Highlighted best cells use the page's green (#e3f3e6) background.
    assert np.all(pixels == [0xE3, 0xF3, 0xE6], axis=2).sum() > 1000
