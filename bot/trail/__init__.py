"""The pure domain: what a run is and what its trail proves.

Lives here: events and the hash chain (`events`), their times (`times`), intents
(`intents`), folding a trail into a run's state (`state`), exact money and totals
(`money`), the path-carrying input errors (`validation`), budgets and the one
over-budget rule (`budget`), run keys (`run_keys`), payment proofs (`proofs`) and
CI rates (`rates`).

May import the standard library and pure third-party parsers only, never anything
of the shell (`bot.store`, `bot.github`, `bot.http`, ...): nothing here does I/O,
so all of it is testable without an event loop.
"""
