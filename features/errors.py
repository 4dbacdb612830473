"""The one exception type raised for bad input data."""

from __future__ import annotations

from collections.abc import Sequence


class DataValidationError(ValueError):
    """A canonical table (or an import source) breaks a rule of the data contract.

    The message names the table, the column, how many rows are wrong, up to five examples and the fix.

    Attributes:
        table: The table (or source file) at fault.
        column: The column at fault, if one.
        n_rows: How many rows break the rule.
        examples: Up to five examples (row numbers or keys).
        fix: What the user should do.
    """

    def __init__(
        self,
        table: str,
        problem: str,
        *,
        column: str | None = None,
        n_rows: int | None = None,
        examples: Sequence[object] = (),
        fix: str = "",
    ) -> None:
        self.table = table
        self.column = column
        self.n_rows = n_rows
        self.examples = list(examples)[:5]
        self.fix = fix
        where = f"Table '{table}'" + (f", column '{column}'" if column else "")
        parts = [f"{where}: {problem}"]
        if n_rows is not None:
            parts.append(f"{n_rows} row{'s' if n_rows != 1 else ''} affected")
        if self.examples:
            parts.append("e.g. " + "; ".join(str(e) for e in self.examples))
        message = ". ".join(parts) + "."
        if fix:
            message += f" Fix: {fix}"
        super().__init__(message)
