"""Config validation: unknown keys name their path and a close suggestion."""

from __future__ import annotations

import pytest

from recfusion.config import load_config, parse_config
from recfusion.errors import ConfigError


def test_unknown_key_names_path_and_suggests_close_name():
    expected = r"fusion\.weigths: unknown key \(did you mean 'weights'\?\)"
    with pytest.raises(ConfigError, match=expected):
        parse_config({"data": {"dataset": "movielens-100k"}, "fusion": {"weigths": {}}})


def test_out_of_range_value_names_field_and_received_value():
    with pytest.raises(ConfigError, match=r"evaluation\.k: .*received 0"):
        parse_config({"data": {"dataset": "movielens-100k"}, "evaluation": {"k": 0}})


def test_data_needs_exactly_one_source():
    with pytest.raises(ConfigError, match="exactly one of data.dataset"):
        parse_config({"data": {}})


def test_toml_round_trip(tmp_path):
    config = parse_config({"data": {"dataset": "movielens-100k"}, "seed": 7})
    path = tmp_path / "run.toml"
    path.write_text(config.to_toml())
    assert load_config(path) == config


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
