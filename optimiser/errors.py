"""The optimiser's small error hierarchy."""

from __future__ import annotations


class OptimiserError(Exception):
    """Base class of every error the optimiser raises."""


class ProblemError(OptimiserError):
    """A problem document breaks the format: each error names the JSON path and the rule."""

    def __init__(self, path: str, rule: str, *, errors: list[tuple[str, str]] | None = None):
        self.errors: list[tuple[str, str]] = list(errors) if errors else [(path, rule)]
        self.path, self.rule = self.errors[0]
        super().__init__(self._message())

    @classmethod
    def from_errors(cls, errors: list[tuple[str, str]]) -> ProblemError:
        """One error carrying every (path, rule) pair found."""
        return cls(errors[0][0], errors[0][1], errors=errors)

    def _message(self) -> str:
        lines = [f"{path or '(document)'}: {rule}" for path, rule in self.errors]
        if len(lines) == 1:
            return f"malformed problem: {lines[0]}"
        return f"malformed problem ({len(lines)} errors):\n" + "\n".join(f"  {ln}" for ln in lines)


class InfeasibleError(OptimiserError):
    """No portfolio satisfies the rules; carries the conflicting rules and the relaxation."""

    def __init__(self, conflicts: list[str], relaxation: list[dict[str, object]]):
        self.conflicts = conflicts
        self.relaxation = relaxation
        super().__init__("infeasible: " + "; ".join(conflicts))


class SolverError(OptimiserError):
    """A solver failed for a reason other than infeasibility (never read as "infeasible").

    `solver` names the solver and `status` is its own status when it reported one."""

    def __init__(self, message: str, *, solver: str | None = None, status: str | None = None):
        self.solver = solver
        self.status = status
        super().__init__(message)
