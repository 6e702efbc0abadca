"""The product's exceptions.

One root so interfaces can tell a user mistake (print one line per problem, exit 2 or an
HTTP 4xx) from a bug (let it surface). Leaf classes also subclass a builtin where that
helps callers who do not know our hierarchy.
"""

from __future__ import annotations

from collections.abc import Iterable


class ContractflowError(Exception):
    """Root of every error the product raises on purpose."""

    exit_code = 2
    http_status = 400

    def lines(self) -> list[str]:
        """The messages a user should see, one problem per line."""
        return [str(self)]


class InvalidInput(ContractflowError, ValueError):
    """Bad input from the user: a file, an option, an argument."""

    def __init__(self, problems: Iterable[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))

    def lines(self) -> list[str]:
        return list(self.problems)


class InvalidContract(InvalidInput):
    """A contract file that does not follow the contract format (problems: one per line)."""

    http_status = 422


class InvalidDefinition(InvalidInput):
    """A workflow or rule definition that is refused at load (`file:line: message` lines)."""

    http_status = 422


class Conflict(ContractflowError):
    """The command ran and the answer is no: someone else acted first, the task is closed."""

    exit_code = 1
    http_status = 409


class Forbidden(ContractflowError, PermissionError):
    """The acting user may not do this."""

    exit_code = 1
    http_status = 403


class Unauthenticated(ContractflowError):
    """No acting user, or credentials that do not check out."""

    exit_code = 2
    http_status = 401


class NotFound(ContractflowError, LookupError):
    """A contract, task, user or other named thing does not exist."""

    exit_code = 2
    http_status = 404


class TooLarge(InvalidInput):
    """An upload or file past the configured size limit."""

    http_status = 413


class TooManyAttempts(ContractflowError):
    """Too many failed sign-ins from this account or address: wait `retry_after` seconds."""

    exit_code = 1
    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)
