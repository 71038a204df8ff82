"""The error raised when a document cannot be imported at all."""

from __future__ import annotations

from connectory.errors import Problem, SpecError


class OpenAPIError(SpecError):
    """The document cannot be imported; ``problems`` says where (JSON pointers) and why.

    It is a :class:`~connectory.errors.SpecError`, so the API answers it with a 422 listing
    the problems and the CLI exits with the "invalid" code.
    """

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        shown = "".join(f"\n  {_describe(problem)}" for problem in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        self.message = f"the document cannot be imported ({len(problems)} problem(s)){shown}{more}"
        self.args = (self.message,)


def import_problem(message: str, pointer: str = "", file: str | None = None) -> Problem:
    """Return an error problem located by a JSON pointer into the document."""
    return Problem(message, path=pointer, file=file)


def _describe(problem: Problem) -> str:
    where = f"{problem.path}: " if problem.path else ""
    return f"{where}{problem.message}"
