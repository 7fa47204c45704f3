"""Enumerations shared across domains."""

from enum import StrEnum


class TemperatureClass(StrEnum):
    AMBIENT = "ambient"
    CHILLED = "chilled"
    FROZEN = "frozen"


class CompartmentSize(StrEnum):
    S = "S"
    M = "M"
    L = "L"


class Language(StrEnum):
    EN = "en"
    ZH = "zh"
