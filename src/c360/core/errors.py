"""The error tree: one root, and a single place that decides Transient vs Terminal.

::

    C360Error
    ├── SpecError                 a product spec is invalid (carries every issue found)
    ├── SourceError               a source system failed
    │   ├── TransientSourceError  worth retrying: timeouts, 5xx, 429 (may carry retry_after)
    │   │   └── RetriesExhausted  (core.retry) every attempt failed; an outer loop never retries it
    │   └── TerminalSourceError   stop and report: bad credentials, missing table, bad request
    ├── StoreError                the governed store refused or is not migrated
    │   └── StoreUnavailable      the store cannot be reached: never answered as "not found"
    ├── NotFound                  what was named does not exist (a subject, a consumer, a version)
    ├── PolicyError               a consumer asked for what its policy does not grant
    ├── ContractError             a change breaks the contract: refused, or not approved
    ├── BuildError                a pipeline stage failed; nothing was published
    │   └── QualityGateFailed     a declared check failed at error level
    ├── IdentityError             identity resolution could not run
    └── MissingDependency         an optional client is not installed (says which extra)
"""

from __future__ import annotations

from dataclasses import dataclass, field


class C360Error(Exception):
    """Root of every error c360 raises on purpose."""


@dataclass(frozen=True)
class SpecIssue:
    """One problem in a spec, located for a person to fix."""

    file: str
    line: int | None
    key: str
    message: str
    suggestion: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
        if self.suggestion:
            text += f"; did you mean '{self.suggestion}'?"
        return text


class SpecError(C360Error):
    """A spec failed validation; ``issues`` holds every problem found, not just the first."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class SourceError(C360Error):
    """A source system failed. ``source`` names the configured source or connector."""

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        super().__init__(f"source '{source}': {message}")


class TransientSourceError(SourceError):
    """A failure worth retrying (timeout, 5xx, 429)."""

    def __init__(self, source: str, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(source, message)


class TerminalSourceError(SourceError):
    """A failure that retrying cannot fix (credentials, missing object, bad request)."""


class StoreError(C360Error):
    """The governed store cannot do what was asked."""


class StoreUnavailable(StoreError):
    """The store did not answer (down, unreachable, timed out): a reader says so, never "none found"."""


class NotFound(C360Error):
    """What was named does not exist: a subject, a customer, a consumer, a recorded version."""


class PolicyError(C360Error):
    """A consumer asked for what its access policy does not grant."""


class ContractError(C360Error):
    """A change the contract gate refuses: breaking without a new major, unapproved, already applied."""


class BuildError(C360Error):
    """A pipeline stage failed; the previous snapshot stays served."""


@dataclass
class QualityFailure:
    field_name: str
    check: str
    level: str
    failing: int
    sample: list[str] = field(default_factory=list)
    detail: str = ""  # for checks about the product as a whole (a source's freshness)

    def __str__(self) -> str:
        if self.detail:
            return f"{self.field_name}: {self.check} failed: {self.detail}"
        sample = ", ".join(self.sample[:5])
        return f"{self.field_name}: {self.check} failed for {self.failing} customer(s) (e.g. {sample})"


class QualityGateFailed(BuildError):
    def __init__(self, failures: list[QualityFailure]) -> None:
        self.failures = failures
        super().__init__("quality gate failed:\n" + "\n".join(f"  {f}" for f in failures))


class IdentityError(C360Error):
    """Identity resolution cannot run on the given input."""


class MissingDependency(C360Error):
    """An optional client library is missing."""

    def __init__(self, package: str, extra: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(f"the '{package}' package is not installed; install it with: pip install 'c360[{extra}]'")


def is_transient(exc: BaseException) -> bool:
    """The one place that decides whether a failure is worth retrying."""
    if isinstance(exc, TransientSourceError):
        return True
    if isinstance(exc, TerminalSourceError | C360Error):
        return False
    return isinstance(exc, TimeoutError | ConnectionError)
