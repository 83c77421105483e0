"""Static API tokens for CI systems that cannot present a GitHub Actions OIDC token.

``AUDIT_API_TOKENS`` is a comma-separated list of ``token=glob`` entries, where the
glob names the repositories (``owner/name``, fnmatch, case-insensitive) the token
may report for, e.g. ``s3cr3t=acme/*,other=acme/widgets|acme/gadgets``. A token may
cover several globs, either with ``|`` inside one entry or by appearing in several
entries. The entry is split at its *last* ``=``, so a token may itself contain ``=``
(base64 padding) but not ``,``; globs contain neither.

Only sha256 digests of the tokens are kept, and a presented token is compared with
every entry in constant time, so neither memory dumps nor timing reveal them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase


def token_digest(token: str) -> bytes:
    """The only form in which a secret token is kept in memory.

    `surrogateescape`: a header that is not UTF-8 reaches us as lone surrogates, and
    must hash to something that matches nothing rather than raise (a 500).
    """
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


def credentials(header: str | None) -> tuple[str, str]:
    """An ``Authorization`` header's scheme (lower case) and credential, both stripped."""
    scheme, _, value = (header or "").strip().partition(" ")
    return scheme.lower(), value.strip()


def normalise_repository_glob(glob: str) -> str | None:
    """The lower-case glob, or None when it cannot match an ``owner/name``.

    Refusing such globs at start beats a token that silently covers nothing.
    """
    glob = glob.strip()
    owner, _, name = glob.partition("/")
    if glob.count("/") != 1 or not owner or not name or any(c.isspace() for c in glob):
        return None
    return glob.lower()


def globs_cover(globs: Iterable[str], repository: str) -> bool:
    """Whether any of the (lower-case) globs matches ``owner/name``, ignoring case."""
    repository = repository.strip().lower()
    if repository.count("/") != 1:
        return False
    return any(fnmatchcase(repository, glob) for glob in globs)


@dataclass(frozen=True)
class StaticToken:
    """One configured token: its position (for logs), digest and repository globs."""

    number: int
    digest: bytes
    globs: tuple[str, ...]

    def __repr__(self) -> str:
        """Leave the digest out of logs and tracebacks; it is not needed to debug."""
        return f"StaticToken(number={self.number}, globs={self.globs!r})"


class StaticTokens:
    """The configured static tokens, matched in constant time."""

    def __init__(self, tokens: Sequence[StaticToken] = ()) -> None:
        self._tokens = tuple(tokens)

    def __len__(self) -> int:
        return len(self._tokens)

    def __iter__(self) -> Iterator[StaticToken]:
        return iter(self._tokens)

    def match(self, token: str) -> StaticToken | None:
        """The entry whose token this is, comparing with every entry (no early exit)."""
        return match_digest(self._tokens, token_digest(token))


def match_digest(tokens: Iterable[StaticToken], digest: bytes) -> StaticToken | None:
    """Compare ``digest`` with all entries so the time taken says nothing about which matched."""
    found: StaticToken | None = None
    for candidate in tokens:
        if hmac.compare_digest(candidate.digest, digest) and found is None:
            found = candidate
    return found


def parse_api_tokens(value: str) -> StaticTokens:
    """Parse ``AUDIT_API_TOKENS``; errors name the entry's position, never its text.

    Blank entries (a trailing comma) are ignored but still counted, so positions
    match what the operator sees. An empty value means no static tokens.
    """
    order: list[bytes] = []
    first_seen: dict[bytes, int] = {}
    globs: dict[bytes, list[str]] = {}
    for position, entry in enumerate(value.split(","), start=1):
        entry = entry.strip()
        if not entry:
            continue
        token, equals, glob_part = entry.rpartition("=")
        token = token.strip()
        if not equals:
            raise ValueError(f"entry {position}: expected token=owner/repo-glob")
        if not token:
            raise ValueError(f"entry {position}: the token before '=' is empty")
        if any(c.isspace() for c in token):
            raise ValueError(f"entry {position}: the token contains whitespace")
        parsed = [normalise_repository_glob(glob) for glob in glob_part.split("|")]
        if not all(parsed):
            raise ValueError(
                f"entry {position}: each repository glob after '=' must look like "
                "owner/name (e.g. acme/* or acme/widgets|acme/gadgets)"
            )
        digest = token_digest(token)
        if digest not in first_seen:
            first_seen[digest] = position
            order.append(digest)
            globs[digest] = []
        globs[digest].extend(g for g in parsed if g and g not in globs[digest])
    return StaticTokens([StaticToken(first_seen[d], d, tuple(globs[d])) for d in order])
