"""Layers only point down (DESIGN.md "Shape"): an app imports only apps on its
own floor or below, nothing imports the roof (``config``), and the pure
packages (``core``, the scan engine) import no Django and no app.

Read from the source (every ``import``, also inside functions), so an upward
import fails here before it tangles anything.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Bottom up; apps on the same floor import neither each other nor anything above.
TIERS = [
    ["core"],
    ["console"],
    ["accounts"],
    ["networks"],
    ["assets"],
    ["scans"],
    ["reports", "insights"],
]
FLOORS = [app for tier in TIERS for app in tier]
LEVEL = {app: level for level, tier in enumerate(TIERS) for app in tier}
ROOF = "config"
# Packages that must stay plain Python: an appliance runs them without Django.
PURE = {
    "core": "core",
    "scans/engine": "scans.engine",
    "assets/connectors": "assets.connectors",
    "scans/feeds": "scans.feeds",
}
FRAMEWORKS = ("django", "rest_framework", "celery", "kombu", "django_filters", "django_tables2")


def imported_modules(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((node.lineno, module))
    return found


def upward_imports(root: Path = ROOT) -> list[str]:
    bad = []
    for app in FLOORS:
        for path in sorted((root / app).rglob("*.py")):
            for line, module in imported_modules(path, root):
                top = module.split(".")[0]
                where = f"{path.relative_to(root)}:{line} imports {module}"
                if top == ROOF:
                    bad.append(f"{where} (the roof)")
                elif top in LEVEL and top != app and LEVEL[top] >= LEVEL[app]:
                    side = "beside" if LEVEL[top] == LEVEL[app] else "above"
                    bad.append(f"{where} (floor {top} is {side} {app})")
    return bad


def impure_imports() -> list[str]:
    bad = []
    for folder, package in PURE.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line, module in imported_modules(path, ROOT):
                top = module.split(".")[0]
                inside = module == package or module.startswith(f"{package}.") or top == "core"
                if top in FRAMEWORKS or ((top in FLOORS or top == ROOF) and not inside):
                    bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return bad


def test_apps_import_only_their_own_floor_or_below():
    assert upward_imports() == []


def test_pure_packages_import_no_django_and_no_app():
    assert impure_imports() == []


def test_every_app_has_a_floor():
    from django.conf import settings

    ours = [a for a in settings.INSTALLED_APPS if (ROOT / a / "apps.py").exists()]
    assert ours and set(ours) <= set(FLOORS)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from scans.models import Detection\n", ["(floor scans is above networks)"]),
        ("def f():\n    from reports import services\n", ["(floor reports is above networks)"]),
        ("import config.celery\n", ["(the roof)"]),
        ("from accounts.models import User\nfrom . import models\n", []),
    ],
)
def test_the_check_sees_upward_imports(tmp_path, source, expected):
    """The checker itself: an upward import, also inside a function, is caught."""
    (tmp_path / "networks").mkdir()
    (tmp_path / "networks" / "probe.py").write_text(source)
    found = upward_imports(tmp_path)
    assert [f[f.index("(") :] for f in found] == expected
