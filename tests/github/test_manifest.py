"""The App manifest: URLs from PUBLIC_URL, the events the handlers need, registration URLs."""

from __future__ import annotations

import pytest

from bot.github import manifest
from bot.github.manifest import app_manifest, registration_url, web_url_from_api
from bot.handlers import router

# Sent to every App without subscribing (and `ping` to every webhook).
ALWAYS_SENT = {"ping", "installation", "installation_repositories", "installation_target"}


def test_manifest_urls_hang_off_public_url() -> None:
    m = app_manifest("https://audit.example.org/bot/")
    assert m["url"] == "https://audit.example.org/bot"
    assert m["hook_attributes"] == {"url": "https://audit.example.org/bot/webhook", "active": True}
    assert m["redirect_url"] == "https://audit.example.org/bot/setup/callback"
    assert m["callback_urls"] == ["https://audit.example.org/bot/auth/callback"]
    assert m["setup_url"] == "https://audit.example.org/bot/setup/installed"
    assert m["public"] is False
    assert m["name"] == "audit-bot"


def test_manifest_permissions_are_what_issue_11_names() -> None:
    # "pull requests and issues (comments), checks, contents read, actions read, metadata"
    assert app_manifest("https://a.example")["default_permissions"] == {
        "pull_requests": "write",
        "issues": "write",
        "checks": "write",
        "contents": "read",
        "actions": "read",
        "metadata": "read",
    }


def test_manifest_events_are_what_the_handlers_register() -> None:
    handled = set(router._shallow_routes) | set(router._deep_routes)
    events = app_manifest("https://a.example")["default_events"]
    assert len(events) == len(set(events))
    assert set(events) == handled - ALWAYS_SENT


def test_manifest_is_a_fresh_copy() -> None:
    m = app_manifest("https://a.example")
    m["default_permissions"]["administration"] = "write"
    m["default_events"].append("push")
    assert "administration" not in manifest.PERMISSIONS
    assert "push" not in app_manifest("https://a.example")["default_events"]


@pytest.mark.parametrize(
    "url", ["", "audit.example.org", "ftp://a.example", "https://a.example/?x=1", "https://#f"]
)
def test_manifest_refuses_a_public_url_github_cannot_use(url: str) -> None:
    with pytest.raises(ValueError):
        app_manifest(url)


def test_manifest_name_and_homepage() -> None:
    m = app_manifest("https://a.example", name="acme-audit", homepage="https://acme.example/")
    assert m["name"] == "acme-audit"
    assert m["url"] == "https://acme.example"
    with pytest.raises(ValueError):
        app_manifest("https://a.example", name="x" * 35)


@pytest.mark.parametrize(
    ("api", "web"),
    [
        ("https://api.github.com", "https://github.com"),
        ("https://api.github.com/", "https://github.com"),
        ("https://ghe.acme.example/api/v3", "https://ghe.acme.example"),
        ("https://ghe.acme.example:8443/api/v3/", "https://ghe.acme.example:8443"),
        ("https://api.octo.ghe.com", "https://octo.ghe.com"),
    ],
)
def test_web_url_from_api(api: str, web: str) -> None:
    assert web_url_from_api(api) == web


@pytest.mark.parametrize(
    "api", ["http://127.0.0.1:9000", "https://ghe.acme.example/api", "not a url"]
)
def test_web_url_from_api_refuses_what_it_cannot_derive(api: str) -> None:
    with pytest.raises(ValueError):
        web_url_from_api(api)


def test_registration_urls() -> None:
    assert registration_url("https://github.com") == "https://github.com/settings/apps/new"
    assert (
        registration_url("https://github.com/", "acme-corp", state="a b&c")
        == "https://github.com/organizations/acme-corp/settings/apps/new?state=a+b%26c"
    )


@pytest.mark.parametrize(
    "org", ["", "-acme", "acme-", "ac--me", "acme/evil", "../x", "a" * 40, "acme?x=1"]
)
def test_registration_url_refuses_a_bad_organisation(org: str) -> None:
    with pytest.raises(ValueError):
        registration_url("https://github.com", org)
