"""Pure renderers: the PR summary markdown, the spend check's text, shared formatting.

No I/O and nothing of the shell: imports `bot.trail` and the standard library only.
"""
