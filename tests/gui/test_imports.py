"""gui/ has no import circle, and every gui module is imported by a test of its own."""

from __future__ import annotations

from tests.support.imports import ROOT, cycles, import_graph, imports_of, modules_of


def test_gui_has_no_import_circle() -> None:
    assert cycles(import_graph("gui")) == []


def test_every_gui_module_has_a_test_of_its_own() -> None:
    known = set(modules_of("gui"))
    packages = {"gui", "gui.__main__", "gui.models", "gui.window", "gui.dialogs", "gui.desktop"}
    modules = known - packages
    missing = []
    for module in sorted(modules):  # gui/<path>/<name>.py: tests/gui/<path>/test_<name>.py
        parts = module.split(".")[1:]
        test = ROOT / "tests" / "gui" / "/".join(parts[:-1]) / f"test_{parts[-1]}.py"
        if not test.is_file() or module not in imports_of(test, known):
            missing.append(module)
    assert missing == []
