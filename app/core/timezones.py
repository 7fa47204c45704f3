"""Time zone names checked against the IANA database."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def check_timezone(value: str) -> str:
    """The IANA zone name if zoneinfo knows it, else ValueError."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # "Asia" is a directory
        raise ValueError(
            f"unknown IANA time zone {value!r} (expected e.g. 'Asia/Shanghai')"
        ) from exc
    return value
