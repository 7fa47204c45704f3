"""No module over 400 lines outside migrations: the checker in scripts/ and the repository."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent


def _load_checker() -> ModuleType:
    path = REPO / "scripts" / "module_length.py"
    spec = importlib.util.spec_from_file_location("module_length", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


checker = _load_checker()


def _write(root: Path, files: dict[str, int]) -> None:
    for name, lines in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n" * lines)


def test_the_repository_has_no_new_long_module() -> None:
    assert checker.too_long(REPO) == []


def test_a_long_module_fails_and_migrations_do_not(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "logistics/short.py": 400,
            "logistics/long.py": 401,
            "app/migrations/versions/big.py": 900,
        },
    )
    assert checker.too_long(tmp_path) == [("logistics/long.py", 401)]
    assert checker.main(["module_length.py", str(tmp_path)]) == 1


def test_an_allowed_module_is_reported_once_it_is_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed = ["bench/long_one.py", "lockers/long_two.py"]
    monkeypatch.setattr(checker, "ALLOWED_LONG", frozenset(allowed))
    _write(tmp_path, {allowed[0]: 401, allowed[1]: 120})
    assert checker.too_long(tmp_path) == []
    assert allowed[1] in checker.stale_allowances(tmp_path)
    assert allowed[0] not in checker.stale_allowances(tmp_path)
