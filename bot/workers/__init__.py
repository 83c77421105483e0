"""Work after the commit: the outbox, periodic jobs, retention, notification, scans.

May import the root helpers, `trail`, `render`, `store` and `github`; never `http`,
`web`, `reporter`, `cli` or `app`.
"""
