"""The house's import direction: the checker in scripts/ and the plain composition it guards."""

import ast
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from app.worker import TASK_MODULES, celery_app

REPO = Path(__file__).resolve().parent.parent


def _load_checker() -> ModuleType:
    path = REPO / "scripts" / "import_layers.py"
    spec = importlib.util.spec_from_file_location("import_layers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


checker = _load_checker()

CLEAN_TREE = {
    "app/__init__.py": "",
    "app/core/__init__.py": "",
    "app/core/db.py": "import os\n",
    "app/orders/__init__.py": "",
    "app/orders/service.py": "from app.core import db\nfrom app.groupbuys import pricing\n",
    "app/groupbuys/__init__.py": "",
    "app/groupbuys/pricing.py": "from ..core.db import os\n",
    "app/main.py": "from app.orders import service\nfrom logistics import planning\n",
    "logistics/__init__.py": "",
    "logistics/models.py": "from app.core.db import os\n",
    "logistics/planning.py": "from logistics.models import os\nfrom app.orders import service\n",
    "lockers/__init__.py": "",
    "lockers/deposit.py": "from logistics import planning\n",
    "notifications/__init__.py": "",
    "notifications/content.py": "from lockers import deposit\nfrom logistics.planning import os\n",
    "ops_dashboard/__init__.py": "from lockers import deposit\n",
    "shop/__init__.py": "from logistics import planning\nfrom app.web import session\n",
    "driver_app/__init__.py": "from lockers import deposit\n",
}


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _bad_imports(root: Path, **changed: str) -> list[tuple[str, str]]:
    files = {**CLEAN_TREE, **{name.replace("__", "/") + ".py": t for name, t in changed.items()}}
    found = checker.violations(_tree(root, files))
    return [(v.importer, v.imported) for v in found]


def test_a_tree_importing_only_down_passes(tmp_path: Path) -> None:
    assert checker.violations(_tree(tmp_path, CLEAN_TREE)) == []
    assert checker.main(["import_layers", str(tmp_path)]) == 0


def test_core_importing_a_domain_package_inside_a_function_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "def f():\n    from app.orders.service import db\n"
    assert _bad_imports(tmp_path, app__core__db=text) == [("app.core.db", "app.orders.service")]
    assert checker.main(["import_layers", str(tmp_path)]) == 1
    assert "app/core/db.py:2: app.core.db imports app.orders.service" in capsys.readouterr().out


def test_a_relative_import_up_the_house_is_resolved_and_fails(tmp_path: Path) -> None:
    text = "from .. import main\n"
    assert _bad_imports(tmp_path, app__orders__service=text) == [("app.orders.service", "app.main")]


def test_a_domain_package_importing_a_service_package_fails(tmp_path: Path) -> None:
    text = "import logistics.planning\n"
    bad = _bad_imports(tmp_path, app__groupbuys__pricing=text)
    assert bad == [("app.groupbuys.pricing", "logistics.planning")]


def test_a_service_package_importing_the_dashboard_fails(tmp_path: Path) -> None:
    assert _bad_imports(tmp_path, logistics__models="import ops_dashboard\n") == [
        ("logistics.models", "ops_dashboard")
    ]


def test_a_new_models_import_fails_while_an_allowed_one_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed = frozenset({("lockers.deposit", "logistics.models")})
    monkeypatch.setattr(checker, "ALLOWED_FOREIGN_MODELS", allowed)
    text = "from logistics.models import os\n"
    bad = _bad_imports(tmp_path, lockers__deposit=text, lockers__fresh=text)
    assert bad == [("lockers.fresh", "logistics.models")]


def test_a_service_package_importing_a_higher_one_fails(tmp_path: Path) -> None:
    assert _bad_imports(tmp_path, logistics__planning="from lockers import deposit\n") == [
        ("logistics.planning", "lockers.deposit")
    ]
    assert _bad_imports(tmp_path / "b", lockers__deposit="import notifications.content\n") == [
        ("lockers.deposit", "notifications.content")
    ]


def test_a_service_package_importing_another_packages_models_fails(tmp_path: Path) -> None:
    files = {"lockers__models": "import os\n"}
    text = "from lockers.models import os\nfrom logistics import models\n"
    assert _bad_imports(tmp_path, notifications__fresh=text, **files) == [
        ("notifications.fresh", "lockers.models"),
        ("notifications.fresh", "logistics.models"),
    ]


def test_an_app_domain_or_page_package_importing_another_owners_models_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checker, "ALLOWED_FOREIGN_MODELS", frozenset())
    text = "from app.orders.models import os\n"
    bad = _bad_imports(
        tmp_path,
        app__orders__models="import os\n",
        app__orders__service=text,
        app__groupbuys__closing=text,
        ops_dashboard__board=text,
        app__seed__city=text,
    )
    # the owner itself and the composition (the seed) may; another domain or a page may not
    assert bad == [
        ("app.groupbuys.closing", "app.orders.models"),
        ("ops_dashboard.board", "app.orders.models"),
    ]


def test_the_allow_list_holds_only_imports_that_exist() -> None:
    assert checker.stale_allowances(REPO) == frozenset()


def test_the_repository_imports_only_down_the_house() -> None:
    assert [str(v) for v in checker.violations(REPO)] == []


@pytest.mark.parametrize(
    "path",
    [
        "app/main.py",
        "app/schema.py",
        "app/cli.py",
        "app/worker.py",
        "app/core/celery_app.py",
        "app/clockwork/runner.py",
        "logistics/pipeline.py",
    ],
)
def test_composition_imports_its_parts_plainly_not_by_string(path: str) -> None:
    tree = ast.parse((REPO / path).read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert "importlib" not in imported


@pytest.mark.parametrize("module", TASK_MODULES, ids=lambda module: module.__name__)
def test_every_celery_task_module_registers_its_tasks(module: ModuleType) -> None:
    assert any(task.__module__ == module.__name__ for task in celery_app.tasks.values())


def test_page_packages_never_import_each_other(tmp_path: Path) -> None:
    assert _bad_imports(tmp_path, shop__pages="import ops_dashboard\n") == [
        ("shop.pages", "ops_dashboard")
    ]
    assert _bad_imports(tmp_path / "b", driver_app__pages="from shop import pages\n") == [
        ("driver_app.pages", "shop")
    ]


def test_service_packages_never_import_page_packages(tmp_path: Path) -> None:
    assert _bad_imports(tmp_path, lockers__deposit="import driver_app\n") == [
        ("lockers.deposit", "driver_app")
    ]
