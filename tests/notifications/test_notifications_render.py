"""Templates in English and Simplified Chinese, and the SMS segments they cost."""

from datetime import UTC, datetime

import pytest

from notifications import render
from notifications.cli import SAMPLE_PARAMS


def test_every_template_exists_in_both_languages_with_the_same_placeholders() -> None:
    en, zh = render.load_templates("en"), render.load_templates("zh")
    assert set(en) == set(zh) == set(render.SPECS)
    for name in render.SPECS:
        assert render.placeholders(en[name]) == render.placeholders(zh[name]), name
        assert render.placeholders(en[name]) == set(SAMPLE_PARAMS[name]), name


def test_english_templates_stay_in_gsm7() -> None:
    for name, body in render.load_templates("en").items():
        assert render.is_gsm7(body), f"{name} would be sent as UCS-2"


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("template", sorted(render.SPECS))
def test_each_message_fits_one_or_two_segments(template: str, language: str) -> None:
    rendered = render.render(template, language, SAMPLE_PARAMS[template])
    assert 1 <= rendered.segments <= 2
    assert rendered.encoding == ("gsm7" if language == "en" else "ucs2")


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("a" * 160, "gsm7", 160, 1),
        ("a" * 161, "gsm7", 161, 2),
        ("a" * 306, "gsm7", 306, 2),
        ("a" * 307, "gsm7", 307, 3),
        ("¥" * 160, "gsm7", 160, 1),  # in the GSM-7 basic table
        ("{" * 80, "gsm7", 160, 1),  # extension table: two septets each
        ("{" * 81, "gsm7", 162, 2),
        ("取" * 70, "ucs2", 70, 1),
        ("取" * 71, "ucs2", 71, 2),
        ("取" * 134, "ucs2", 134, 2),
        ("取" * 135, "ucs2", 135, 3),
        ("a" * 69 + "é", "gsm7", 70, 1),  # é is GSM-7
        ("a" * 69 + "ê", "ucs2", 70, 1),  # ê is not: the whole SMS becomes UCS-2
        ("😀" * 35, "ucs2", 70, 1),  # outside the BMP: two UTF-16 units each
        ("😀" * 36, "ucs2", 72, 2),
    ],
)
def test_segment_counts(text: str, encoding: str, units: int, segments: int) -> None:
    assert render.count_segments(text) == render.Segments(encoding, units, segments)


def test_the_stored_copy_masks_the_code_and_only_the_code() -> None:
    params = dict(SAMPLE_PARAMS["parcel_ready"], code="482913", order_id=1042)
    rendered = render.render("parcel_ready", "en", params)
    assert "Code 482913." in rendered.body
    assert "482913" not in rendered.redacted
    assert "Code ******." in rendered.redacted
    assert "#1042" in rendered.redacted  # not a secret, kept readable
    assert "482913" not in repr(rendered)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_long_names_are_shortened_to_fit_two_segments(language: str) -> None:
    params = dict(
        SAMPLE_PARAMS["parcel_ready"],
        address="Building 7, Lane 1288, Middle Huaihai Road, Xuhui District, " * 5,
        bank_name="The Very Long Name Of A Neighbourhood Locker Bank " * 3,
    )
    rendered = render.render("parcel_ready", language, params)
    assert rendered.segments == 2
    assert "482913" in rendered.body  # the code and deadline are never cut
    assert "Fri 14 Mar 18:00" in rendered.body
    assert ("..." if language == "en" else "…") in rendered.body


def test_chinese_rendering_reads_naturally() -> None:
    rendered = render.render(
        "parcel_ready",
        "zh",
        dict(SAMPLE_PARAMS["parcel_ready"], bank_name="翡翠花园取件柜", address="淮海路88号"),
    )
    assert rendered.body.startswith("【Pickup】订单#1042已到翡翠花园取件柜（淮海路88号）B07号格口")
    assert "取件码482913" in rendered.body
    assert rendered.encoding == "ucs2"


def test_a_missing_parameter_is_an_error_not_a_blank() -> None:
    with pytest.raises(KeyError, match="code"):
        render.render("login_code", "en", {"minutes": 5})


def test_unknown_languages_fall_back_to_english() -> None:
    assert render.language_of("fr") == "en"
    assert render.render("help_reply", "fr", {}).body.startswith("Pickup order alerts")


def test_local_times_and_money() -> None:
    at = datetime(2026, 3, 13, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai
    assert render.format_local_time(at, "Asia/Shanghai", "en") == "Fri 13 Mar 18:00"
    assert render.format_local_time(at, "Asia/Shanghai", "zh") == "3月13日 18:00"
    assert render.format_local_time(at, "Europe/Paris", "en") == "Fri 13 Mar 11:00"
    assert render.format_money(890, "CNY") == "¥8.90"
