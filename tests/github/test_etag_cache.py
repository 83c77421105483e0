"""The ETag cache: bounded in bytes across installations, never shared between them."""

from __future__ import annotations

import aiohttp
import pytest
from cachetools import LRUCache

from bot.github.auth import Credentials
from bot.github.client import GitHub, InstallationCache, entry_size
from bot.store.sqlite import SQLiteStore
from tests.github import test_repo_config as repo_config_tests
from tests.support.bot import REPO
from tests.support.fake_github import FakeGitHub

store = repo_config_tests.store  # a SQLite store the client counts its writes in


async def test_cached_answers_stay_within_a_byte_budget_oldest_out_first(
    github: FakeGitHub, store: SQLiteStore
) -> None:
    # Twenty 20 KB files read through one installation's client: a cache bounded by a
    # count of entries would keep them all (and a comment listing can be megabytes).
    for n in range(20):
        github.files[(REPO.lower(), f"docs/{n}.md")] = f"{n}" * 20_000
    async with aiohttp.ClientSession() as session:
        credentials = Credentials(session, api_url=github.url, token="ghp_x")
        client = GitHub(session, credentials, store, cache_bytes=150_000)
        gh = await client.api(None)
        for n in range(20):
            await gh.getitem(f"/repos/{REPO}/contents/docs/{n}.md")
        assert client.etags.currsize <= 150_000
        await gh.getitem(f"/repos/{REPO}/contents/docs/19.md")  # recent: revalidated
        await gh.getitem(f"/repos/{REPO}/contents/docs/0.md")  # evicted: read whole

    reads = {
        r.path.rsplit("/", 1)[-1]: r.headers.get("If-None-Match")
        for r in github.requests[20:]
        if "/contents/" in r.path
    }
    assert reads["19.md"] is not None and reads["0.md"] is None


def test_installations_see_only_their_own_cached_answers() -> None:
    shared: LRUCache = LRUCache(maxsize=10_000, getsizeof=entry_size)
    one, two = InstallationCache(shared, 1), InstallationCache(shared, 2)
    one["/repos/a/b/contents/x"] = ('"e1"', None, {"secret": "one's"}, None)
    two["/repos/a/b/contents/x"] = ('"e2"', None, {"secret": "two's"}, None)

    assert one["/repos/a/b/contents/x"][2] == {"secret": "one's"}
    assert two["/repos/a/b/contents/x"][2] == {"secret": "two's"}
    assert list(one) == ["/repos/a/b/contents/x"] and len(two) == 1
    with pytest.raises(KeyError):
        InstallationCache(shared, None)["/repos/a/b/contents/x"]
    # an answer larger than the whole cache is not kept (and does not fail the request)
    one["/big"] = (None, None, "x" * 20_000, None)
    with pytest.raises(KeyError):
        one["/big"]
