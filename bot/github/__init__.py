"""Talking to GitHub: App auth and tokens (`auth`), the client and its pacing
(`client`, `pacing`), the summary comment (`comments`), posting the spend check run
(`checks`; its text is `bot.render.spend_check`), repository config (`repo_config`),
missed-delivery redelivery (`redelivery`), webhook event names (`event_names`), the
user authorization of "Sign in with GitHub" and what a user token may see
(`user_oauth`), and what GitHub's errors mean (`errors`).

May import the root helpers, `trail`, `render` and `store`; nothing above them.
"""
