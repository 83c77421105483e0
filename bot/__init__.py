"""The audit bot: audited runs for pull requests, as a GitHub App."""

__version__ = "0.1.0"
