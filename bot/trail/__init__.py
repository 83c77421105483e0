"""The pure domain: events, hash chain, folding a trail into a run's state.

Nothing here does I/O, so all of it is testable without an event loop.
"""
