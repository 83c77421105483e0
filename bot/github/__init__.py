"""Talking to GitHub: App auth and tokens, the client and its pacing, the summary
comment, the spend check run, repository config, missed-delivery redelivery.

May import the root helpers, `trail`, `render` and `store`; nothing above them.
"""
