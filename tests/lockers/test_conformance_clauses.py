"""The suite's clauses match the protocol document, and the operator hooks prompt and refuse.
No broker: these read the document and the registry."""

import re
from pathlib import Path

import pytest

from lockers.conformance.hooks import ACTIONS, HookFailed, OperatorHooks
from lockers.conformance.session import select_clauses

DOC = Path(__file__).resolve().parents[2] / "docs" / "locker-protocol.md"


def _locker_clauses_in_document() -> set[str]:
    return set(re.findall(r"\*\*\[(L-\d+\.\d+)\]\*\*", DOC.read_text()))


def test_every_locker_clause_of_the_document_has_exactly_one_check() -> None:
    ids = [c.id for c in select_clauses()]
    assert len(ids) == len(set(ids))
    assert set(ids) == _locker_clauses_in_document()


def test_only_selects_a_section_or_one_clause() -> None:
    assert [c.id for c in select_clauses(["L-7.1"])] == ["L-7.1"]
    section = {c.id for c in select_clauses(["L-10"])}
    assert section == {"L-10.1", "L-10.2", "L-10.3"}
    assert select_clauses(["L-1"]) == []  # L-1 is not a prefix of L-10.1


def test_the_operator_is_told_what_to_do_and_may_refuse() -> None:
    asked: list[str] = []
    answers = iter(["", "no"])

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return next(answers)

    hooks = OperatorHooks(ask=ask)
    hooks.perform("enter_code", code="123456")
    with pytest.raises(HookFailed, match="could not cut the locker's network"):
        hooks.perform("drop_link", seconds=3)
    assert "type the code 123456 on the keypad" in asked[0]
    with pytest.raises(HookFailed, match="needs compartment"):
        hooks.perform("close_door", parcel_present=True)
    with pytest.raises(HookFailed, match="unknown test action"):
        hooks.perform("shake_it")
    assert len(asked) == 2  # a bad request never reaches the operator
    assert set(ACTIONS) == {
        "enter_code",
        "scan_qr",
        "close_door",
        "jam_door",
        "drop_link",
        "restart",
        "connect_probe",
    }
