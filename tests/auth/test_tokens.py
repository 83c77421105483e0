"""Static and admin tokens: parsing AUDIT_API_TOKENS, matching, and what each may write."""

from __future__ import annotations

import hmac

import pytest

from bot.auth import Authenticator, AuthError, Principal, parse_api_tokens
from bot.auth import tokens as tokens_module
from bot.auth.tokens import StaticTokens, globs_cover, token_digest

SECRET = "s3cr3t-Token_value"
OTHER = "other-token-value"


# -- parsing ---------------------------------------------------------------------


def test_parse_single_entry() -> None:
    (entry,) = parse_api_tokens(f"{SECRET}=acme/*")
    assert entry.number == 1
    assert entry.globs == ("acme/*",)
    assert entry.digest == token_digest(SECRET)


def test_parse_several_globs_by_pipe_and_by_repeating_the_token() -> None:
    parsed = parse_api_tokens(
        f" {SECRET}=Acme/Widgets | acme/gadgets , {OTHER}=x/y, {SECRET}=beta/* ,"
    )
    first, second = parsed
    assert (first.number, first.globs) == (1, ("acme/widgets", "acme/gadgets", "beta/*"))
    assert (second.number, second.globs) == (2, ("x/y",))


def test_parse_splits_at_the_last_equals_so_tokens_may_hold_padding() -> None:
    (entry,) = parse_api_tokens("dG9rZW4==acme/widgets")
    assert entry.digest == token_digest("dG9rZW4=")
    assert entry.globs == ("acme/widgets",)


@pytest.mark.parametrize("value", ["", "   ", ",", " , ,"])
def test_parse_empty_value_means_no_tokens(value: str) -> None:
    assert len(parse_api_tokens(value)) == 0


@pytest.mark.parametrize(
    ("value", "position"),
    [
        (f"{SECRET}", 1),
        (f"{OTHER}=x/y,{SECRET}", 2),
        (f"{OTHER}=x/y,,{SECRET}=", 3),
        (f"={SECRET}/x", 1),
        (f"{SECRET}=acme", 1),
        (f"{SECRET}=acme/", 1),
        (f"{SECRET}=/widgets", 1),
        (f"{SECRET}=acme/*|", 1),
        (f"{SECRET}=acme/a b", 1),
        (f"{SECRET}=acme/widgets/x", 1),
        (f"{SECRET} x=acme/*", 1),
        (f"{OTHER}=x/y, {SECRET}=a/b=", 2),
    ],
)
def test_parse_errors_name_the_position_never_the_token(value: str, position: int) -> None:
    with pytest.raises(ValueError) as caught:
        parse_api_tokens(value)
    message = str(caught.value)
    assert message.startswith(f"entry {position}:")
    for secret in (SECRET, OTHER, "a/b", "acme/a"):
        assert secret not in message


def test_only_digests_are_kept() -> None:
    parsed = parse_api_tokens(f"{SECRET}=acme/*")
    (entry,) = parsed
    assert SECRET not in repr(vars(parsed)) + repr(vars(entry))
    assert "digest" not in repr(entry)


def test_match_and_mismatch() -> None:
    parsed = parse_api_tokens(f"{SECRET}=acme/*,{OTHER}=x/y")
    matched = parsed.match(OTHER)
    assert matched is not None and matched.number == 2
    assert parsed.match("nope") is None
    assert parsed.match(SECRET.upper()) is None
    assert parsed.match("") is None
    assert StaticTokens().match(SECRET) is None


def test_match_compares_every_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """No early exit: a hit on the first entry costs as many comparisons as a miss."""
    calls: list[int] = []
    original = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(1)
        return original(a, b)

    monkeypatch.setattr(tokens_module.hmac, "compare_digest", counting)
    parsed = parse_api_tokens(f"{SECRET}=acme/*,{OTHER}=x/y,third=z/z")
    assert parsed.match(SECRET) is not None
    assert len(calls) == 3
    calls.clear()
    assert parsed.match("missing") is None
    assert len(calls) == 3


@pytest.mark.parametrize(
    ("globs", "repository", "covered"),
    [
        (("acme/*",), "acme/widgets", True),
        (("acme/*",), "ACME/Widgets", True),
        (("acme/widgets",), "acme/widgetsx", False),
        (("acme/w?dgets",), "acme/widgets", True),
        (("acme/*",), "acmex/widgets", False),
        (("acme/*",), "acme", False),
        (("*/*",), "a/b/c", False),
        (("x/y", "acme/*"), "acme/a", True),
        ((), "acme/widgets", False),
    ],
)
def test_globs_cover(globs: tuple[str, ...], repository: str, covered: bool) -> None:
    assert globs_cover(globs, repository) is covered


# -- the Authenticator with static and admin tokens ----------------------------------


@pytest.fixture
def auth() -> Authenticator:
    return Authenticator(
        static_tokens=parse_api_tokens(f"{SECRET}=acme/*,{OTHER}=Beta/Widgets"),
        admin_token="admin-token-value",
    )


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer   ",
        f"Basic {SECRET}",
        f"Token {SECRET}",
        SECRET,
        f"Bearer{SECRET}",
    ],
)
async def test_missing_or_non_bearer_header(auth: Authenticator, header: str | None) -> None:
    with pytest.raises(AuthError) as caught:
        await auth.authenticate(header)
    assert str(caught.value) == "missing bearer token"


@pytest.mark.asyncio
@pytest.mark.parametrize("token", ["garbage", f"{SECRET}x", "a.b.c", "x" * 5000, f"{SECRET} extra"])
async def test_unknown_token_is_invalid(auth: Authenticator, token: str) -> None:
    with pytest.raises(AuthError) as caught:
        await auth.authenticate(f"Bearer {token}")
    assert str(caught.value) == "invalid token"


@pytest.mark.asyncio
async def test_static_token_gives_its_globs(auth: Authenticator) -> None:
    principal = await auth.authenticate(f"bearer  {SECRET} ")
    assert principal == Principal("static", "static token #1", ("acme/*",))
    assert principal.claims is None
    assert principal.may_write("acme/widgets")
    assert principal.may_write("ACME/Gadgets")
    assert not principal.may_write("beta/widgets")
    assert SECRET not in repr(principal)


@pytest.mark.asyncio
async def test_static_globs_are_case_insensitive(auth: Authenticator) -> None:
    principal = await auth.authenticate(f"Bearer {OTHER}")
    assert principal.subject == "static token #2"
    assert principal.may_write("beta/widgets")
    assert principal.may_write("BETA/WIDGETS")
    assert not principal.may_write("beta/gadgets")
    assert not principal.may_write("acme/widgets")


@pytest.mark.asyncio
async def test_admin_may_write_anything(auth: Authenticator) -> None:
    principal = await auth.authenticate("Bearer admin-token-value")
    assert (principal.kind, principal.subject) == ("admin", "admin token")
    assert principal.may_write("anyone/anything")


@pytest.mark.asyncio
@pytest.mark.parametrize("admin", [None, "", "   "])
async def test_empty_admin_token_never_matches(admin: str | None) -> None:
    auth = Authenticator(admin_token=admin)
    assert not auth.configured
    for header in ("Bearer ", "Bearer  ", "Bearer None"):
        with pytest.raises(AuthError):
            await auth.authenticate(header)


@pytest.mark.asyncio
async def test_nothing_configured_refuses_everything() -> None:
    auth = Authenticator()
    assert not auth.configured
    with pytest.raises(AuthError, match="invalid token"):
        await auth.authenticate(f"Bearer {SECRET}")


def test_configured_when_any_credential_exists(auth: Authenticator) -> None:
    assert auth.configured
    assert Authenticator(static_tokens=parse_api_tokens(f"{SECRET}=a/b")).configured
