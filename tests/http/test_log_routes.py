"""The transparency log's routes: what they serve verifies with `merkle` and the key."""

from __future__ import annotations

import base64

from bot.http.access import run_link_token
from bot.store.base import RunFilter
from bot.trail import checkpoint as cp
from bot.trail import merkle
from bot.workers.log_integrator import INTEGRATOR
from tests.support.bot import REPO, SECRET, Bot, load_payload

ORIGIN = "audit.example.test/audit-bot"  # from PUBLIC_URL


def hashes(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


async def integrate(bot: Bot) -> int:
    assert bot.app is not None
    return await bot.app[INTEGRATOR].run_once()


async def signed(bot: Bot) -> cp.Checkpoint:
    _, key = await bot.request("GET", "/api/log/key")
    _, note = await bot.request("GET", "/api/log/checkpoint")
    return cp.open_checkpoint(note, [key.strip()], ORIGIN)


async def test_proofs_verify_against_the_signed_checkpoints(bot: Bot) -> None:
    status, body = await bot.request("GET", "/api/log/checkpoint")
    assert status == 404
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    first_size = await integrate(bot)
    first = await signed(bot)
    assert first.size == first_size > 0
    await bot.deliver("pull_request", load_payload("pull_request.synchronize"))
    second = await signed(bot) if await integrate(bot) else first
    assert second.size > first.size

    status, body = await bot.request(
        "GET", f"/api/log/proof/consistency?from={first.size}&to={second.size}"
    )
    assert status == 200
    merkle.verify_consistency(
        first.size, second.size, first.root, second.root, hashes(body["proof"])
    )

    (run, *_) = await bot.store.list_runs(RunFilter(repo=REPO))
    for size, root in ((first.size, first.root), (second.size, second.root)):
        status, body = await bot.request("GET", f"/api/runs/{run['id']}/proof?tree_size={size}")
        if status == 400:  # the run's head came after that checkpoint
            assert body["parameter"] == "tree_size"
            continue
        assert status == 200
        leaf = base64.b64decode(body["leaf_data"])
        head = await bot.store.get_run(run["id"])
        assert leaf == merkle.leaf_data(run["id"], head["seq"], head["head_hash"])
        merkle.verify_inclusion(
            merkle.leaf_hash(leaf), body["leaf_index"], size, hashes(body["inclusion_proof"]), root
        )
    status, body = await bot.request("GET", f"/api/runs/{run['id']}/proof")
    assert status == 200 and body["tree_size"] == second.size
    assert body["seq"] == (await bot.store.get_run(run["id"]))["seq"]


async def test_bad_sizes_answer_400_naming_the_parameter(bot: Bot) -> None:
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    size = await integrate(bot)
    for query, parameter in (
        (f"from=0&to={size + 1}", "to"),
        (f"from={size}&to=0", "from"),
        ("from=x&to=1", "from"),
        (f"to={size}", "from"),
        (f"from=0&to={size}&extra=1", "extra"),
    ):
        status, body = await bot.request("GET", f"/api/log/proof/consistency?{query}")
        assert status == 400 and body["parameter"] == parameter, (query, body)
    if size > 1:
        status, body = await bot.request("GET", f"/api/log/proof/consistency?from=1&to={size}")
        assert status == 400 and "not the size of a signed checkpoint" in body["error"]


async def test_a_private_runs_proof_is_404_like_a_missing_run(bot: Bot) -> None:
    private = load_payload("pull_request.opened", repository__private=True)
    await bot.deliver("pull_request", private)
    await integrate(bot)
    (run, *_) = await bot.store.list_runs(RunFilter(repo=REPO))
    hidden = await bot.request("GET", f"/api/runs/{run['id']}/proof")
    missing = await bot.request("GET", f"/api/runs/{'0' * 26}/proof")
    assert hidden == missing and hidden[0] == 404
    token = run_link_token(SECRET, run["id"])
    status, body = await bot.request("GET", f"/api/runs/{run['id']}/proof?t={token}")
    assert status == 200 and body["run_id"] == run["id"]


async def test_the_log_routes_are_in_the_openapi_document(bot: Bot) -> None:
    _, document = await bot.request("GET", "/api/openapi.json")
    for path in (
        "/api/log/checkpoint",
        "/api/log/key",
        "/api/log/proof/consistency",
        "/api/runs/{run_id}/proof",
    ):
        assert "get" in document["paths"][path]
