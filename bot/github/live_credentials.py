"""The GitHub credentials and webhook secret the running bot uses, swappable at once.

`bot.app` starts from the settings; `/setup` (bot.web.app_setup) calls `switch_to_app`
after GitHub's manifest conversion, and the very next webhook is checked against
the new secret and the outbox posts as the new App, without a restart. The webhook
route asks `webhook_refusal` first: a bot in setup mode listening beyond loopback
(no secret yet) accepts no delivery at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from bot.config import is_loopback

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.github.stored_credentials import StoredCredentials


class LiveCredentials:
    def __init__(self, settings: Settings) -> None:
        self.webhook_secret = settings.webhook_secret
        self.mode = settings.mode
        # Beyond loopback with no secret: refuse webhooks until setup stores one.
        self.refuse_webhooks = settings.setup_mode and not is_loopback(settings.host)
        self.app_id: int | None = settings.app_id

    def switch_to_app(self, app: web.Application, stored: StoredCredentials) -> None:
        """Post as the App and check its webhook secret from now on."""
        from bot import keys
        from bot.github.auth import Credentials
        from bot.github.checks import SpendChecks
        from bot.github.client import GitHub
        from bot.github.repo_config import RepoConfigs

        settings = app[keys.SETTINGS]
        credentials = Credentials(
            app[keys.SESSION],
            api_url=settings.api_url,
            app_id=stored.app_id,
            private_key=stored.pem,
        )
        worker = app[keys.OUTBOX]
        worker.github = GitHub(app[keys.SESSION], credentials, app[keys.STORE])
        worker.repo_configs = RepoConfigs()
        worker.spend_checks = SpendChecks()
        self.webhook_secret = stored.webhook_secret
        self.app_id = stored.app_id
        self.mode = "app"
        self.refuse_webhooks = False


LIVE = web.AppKey("live_credentials", LiveCredentials)


def live_for(app: web.Application) -> LiveCredentials:
    found = app.get(LIVE)
    return found if found is not None else LiveCredentials(app[_settings_key()])


def webhook_secret(app: web.Application) -> str | None:
    return live_for(app).webhook_secret


def webhook_refusal(app: web.Application) -> str | None:
    """Why no webhook is accepted right now (setup not done off loopback), or None."""
    if live_for(app).refuse_webhooks:
        return "the bot is not set up yet: open /setup (see its start-up log line)"
    return None


def _settings_key() -> web.AppKey[Settings]:
    from bot import keys

    return keys.SETTINGS
