"""Pure renderers: the PR summary markdown (`summary`), the spend check's text
(`spend_check`), and formatting they share with the pages (`format`).

No I/O and nothing of the shell: imports `bot.trail` and the standard library only,
so what GitHub is sent can be tested as plain text.
"""
