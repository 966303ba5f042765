"""core.demoserver.conn: the shared types that untie session, authorization and transaction."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.imports import ROOT, cycles, import_graph


def test_the_demo_server_has_no_import_circle() -> None:
    graph = import_graph("core.demoserver")
    assert cycles(graph) == []
    assert "core.demoserver.session" not in graph["core.demoserver.authorization"]
    assert "core.demoserver.session" not in graph["core.demoserver.transaction"]


@pytest.mark.parametrize("first", ["authorization", "transaction", "session", "conn"])
def test_each_module_imports_first_on_its_own(first: str) -> None:
    out = subprocess.run([sys.executable, "-c", f"import core.demoserver.{first}"],
                         capture_output=True, text=True, timeout=60, cwd=str(ROOT))
    assert out.returncode == 0, out.stderr
