from __future__ import annotations

import pytest

from detection.param import UnknownParameterError, apply_params, parse_param
from detection.presence_rule import PresenceConfig


def test_parse_and_apply_with_types() -> None:
    name, value = parse_param("person.min_dwell_s=2.5")
    config = apply_params(PresenceConfig(), "person", {name: value, "person.min_height_px": "40"})
    assert config.min_dwell_s == 2.5 and config.min_height_px == 40


def test_other_rules_parameters_are_left_alone() -> None:
    assert apply_params(PresenceConfig(), "person", {"littering.dwell_s": 8}) == PresenceConfig()


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownParameterError, match=r"person\.min_dwel .*person\.min_dwell_s"):
        apply_params(PresenceConfig(), "person", {"person.min_dwel": 1})


@pytest.mark.parametrize("text", ["min_dwell_s=1", "person.min_dwell_s", "person.min_dwell_s="])
def test_malformed_param(text: str) -> None:
    with pytest.raises(ValueError, match=r"RULE\.NAME=VALUE"):
        parse_param(text)


def test_wrong_type() -> None:
    with pytest.raises(ValueError, match="not a valid int"):
        apply_params(PresenceConfig(), "person", {"person.min_height_px": "1.5"})
