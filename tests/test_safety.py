"""Safety advice lines and the ``spot_<id>`` deep links of the QR posters."""

from __future__ import annotations

import re
import string
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.gazetteer import Gazetteer
from bot.i18n import Translator
from bot.safety import (
    HOTLINE_LINE,
    MAX_PLACE_ID_LENGTH,
    NO_HOTLINE_LINE,
    START_PREFIX,
    deep_link,
    parse_start_payload,
    safety_advice,
    safety_text,
)

KINDS = ("sighting", "livestock", "signs", "tip", None, "")
VALID_ID = re.compile(r"[a-z0-9_-]{1,59}")


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_gets_the_core_advice_and_one_contact_line(kind: str | None) -> None:
    lines = safety_advice(kind, None)
    text = " ".join(lines)
    assert "Do not go near a leopard." in lines
    assert "Keep children close to you." in lines
    assert "Keep livestock in a closed pen at night." in lines
    assert "Never try to harm the leopard" in text
    assert "national first-class protected animal" in text
    assert "crime" in text
    assert lines[-1] == NO_HOTLINE_LINE
    assert len(lines) == len(set(lines)), "no line twice"
    # Short, one idea a line, for small phones.
    assert all(0 < len(line) <= 80 for line in lines)


def test_kinds_get_their_own_first_advice() -> None:
    sighting = safety_advice("sighting", None)
    livestock = safety_advice("livestock", None)
    assert sighting[0].startswith("If you meet a leopard")
    assert livestock[0].startswith("Leave the dead animal")
    assert "Never use poison, traps or snares." in livestock
    assert safety_advice("signs", None) == safety_advice(None, None) == safety_advice("nonsense", None)


@pytest.mark.parametrize("kind", KINDS)
def test_no_number_is_ever_invented(kind: str | None) -> None:
    """Without a configured hotline the only number in the advice is 110 (the police)."""
    for hotline in (None, "", "   "):
        lines = safety_advice(kind, hotline)
        assert HOTLINE_LINE not in lines
        assert re.findall(r"\d+", " ".join(lines)) == ["110"]
    with_hotline = safety_advice(kind, "0354-8888888")
    assert with_hotline[-1] == HOTLINE_LINE
    assert NO_HOTLINE_LINE not in with_hotline
    assert not re.findall(r"\d+", " ".join(with_hotline))
    assert [line for line in with_hotline if "{" in line] == [HOTLINE_LINE]


def test_safety_text_fills_in_the_configured_hotline() -> None:
    english = Translator("en")
    text = safety_text(english, "sighting", " 0354-8888888 ")
    assert text.splitlines()[-1] == "In an emergency, call the county hotline: 0354-8888888"
    assert "{" not in text
    assert safety_text(english, "livestock", None).splitlines()[-1] == (
        "In an emergency, call your local forestry station or 110."
    )


def test_deep_link() -> None:
    assert deep_link("heshun_leopard_bot", "yunlongshan") == (
        "https://t.me/heshun_leopard_bot?start=spot_yunlongshan"
    )
    assert deep_link("@HeshunLeopardBot", "geonames-123") == (
        "https://t.me/HeshunLeopardBot?start=spot_geonames-123"
    )


@pytest.mark.parametrize("username", ["", "@", "ab", "1heshun_bot", "heshun-bot", "a" * 33, "bot/x?y"])
def test_deep_link_rejects_bad_usernames(username: str) -> None:
    with pytest.raises(ValueError, match="username"):
        deep_link(username, "yunlongshan")


@pytest.mark.parametrize("place_id", ["", "Yunlong", "云龙山", "a b", "a/b", "a" * (MAX_PLACE_ID_LENGTH + 1)])
def test_deep_link_rejects_ids_telegram_would_not_carry(place_id: str) -> None:
    with pytest.raises(ValueError, match="place id"):
        deep_link("heshun_leopard_bot", place_id)


def test_every_bundled_place_has_a_deep_link() -> None:
    for place in Gazetteer.default():
        link = deep_link("heshun_leopard_bot", place.id)
        (payload,) = parse_qs(urlsplit(link).query)["start"]
        assert len(payload) <= 64
        assert parse_start_payload(payload) == place.id


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("spot_yunlongshan", "yunlongshan"),
        ("spot_geonames-1795565", "geonames-1795565"),
        ("spot_a", "a"),
        ("spot_" + "a" * MAX_PLACE_ID_LENGTH, "a" * MAX_PLACE_ID_LENGTH),
        ("spot_" + "a" * (MAX_PLACE_ID_LENGTH + 1), None),
        ("spot_", None),
        ("spot_Yunlong", None),
        ("spot_yun long", None),
        ("spot_yunlongshan\n", None),
        ("SPOT_yunlongshan", None),
        ("yunlongshan", None),
        ("report_sighting", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_start_payload_examples(payload: str | None, expected: str | None) -> None:
    assert parse_start_payload(payload) == expected


@given(st.one_of(st.none(), st.text(), st.text(alphabet=string.ascii_letters + string.digits + "_-")))
def test_parse_start_payload_never_raises_and_only_passes_valid_ids(payload: str | None) -> None:
    place_id = parse_start_payload(payload)
    if place_id is not None:
        assert payload == START_PREFIX + place_id
        assert VALID_ID.fullmatch(place_id)


@given(st.text(alphabet=string.ascii_letters + string.digits + "_-", max_size=80))
def test_parse_start_payload_accepts_exactly_the_spot_ids(suffix: str) -> None:
    expected = suffix if VALID_ID.fullmatch(suffix) else None
    assert parse_start_payload(START_PREFIX + suffix) == expected


@given(st.from_regex(VALID_ID, fullmatch=True))
def test_deep_link_round_trips(place_id: str) -> None:
    link = deep_link("heshun_leopard_bot", place_id)
    (payload,) = parse_qs(urlsplit(link).query)["start"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", payload)
    assert parse_start_payload(payload) == place_id
