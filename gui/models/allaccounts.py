""""All accounts": every account's messages in one list, and their totals summed.

A ``QConcatenateTablesProxyModel`` over the runners' own models, in the registry's order:
it holds no rows of its own, so it is as current as the accounts' lists. It is a view to
read; the commands (download, mark …) act on one account, so the window disables them here.
"""

from __future__ import annotations

from dataclasses import fields

from PySide6.QtCore import QConcatenateTablesProxyModel, QObject, Slot

from gui.models.totals import Totals
from gui.registry import RunnerRegistry
from gui.runner import AccountRunner

__all__ = ["AllAccountsModel", "sum_totals"]


def sum_totals(parts: list[Totals]) -> Totals:
    """Field by field (rates add up too: the accounts transfer side by side)."""
    names = [f.name for f in fields(Totals)]
    return Totals(**{n: sum(getattr(t, n) for t in parts) for n in names})


class AllAccountsModel(QConcatenateTablesProxyModel):
    """Its rows are the runners' rows; the window refreshes the summed totals whenever an
    account's own totals change."""

    def __init__(self, registry: RunnerRegistry, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._registry = registry
        self._runners: list[AccountRunner] = []
        registry.added.connect(self._added)
        registry.removed.connect(self._removed)
        for runner in registry:
            self._added(runner, len(self._runners))

    @Slot(object, int)
    def _added(self, runner: AccountRunner, _index: int) -> None:
        # Qt's concatenation appends: an account inserted before others is listed last.
        self._runners.append(runner)
        self.addSourceModel(runner.model)

    @Slot(object, int)
    def _removed(self, runner: AccountRunner, _index: int) -> None:
        if runner in self._runners:
            self._runners.remove(runner)
            self.removeSourceModel(runner.model)

    def runners(self) -> list[AccountRunner]:
        return list(self._runners)

    def totals(self) -> Totals:
        return sum_totals([r.model.totals() for r in self._runners])

    def locate(self, row: int) -> tuple[AccountRunner, str] | None:
        """The account and UIDL of a row of this list."""
        source = self.mapToSource(self.index(row, 0))
        runner = next((r for r in self._runners if r.model is source.model()), None)
        return None if runner is None else (runner, runner.model.uidl_at(source.row()))
