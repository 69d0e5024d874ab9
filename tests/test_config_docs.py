"""docs/config.md is generated from the config models and must stay in step with them."""

from __future__ import annotations

from pathlib import Path

from recfusion._config_docs import config_reference

DOC = Path(__file__).resolve().parents[1] / "docs" / "config.md"


def test_config_reference_is_up_to_date():
    assert DOC.read_text(encoding="utf-8") == config_reference(), (
        "docs/config.md is stale: run `python -m recfusion._config_docs > docs/config.md`"
    )


def test_every_section_key_is_documented():
    text = config_reference()
    for key in ("tune_trials", "mmr_lambda", "max_pairs_window", "exact_threshold", "ks"):
        assert f"`{key}`" in text
