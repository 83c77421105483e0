"""Talking to GitHub: credentials, the client, the sticky summary comment."""
