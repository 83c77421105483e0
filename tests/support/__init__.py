"""What the tests share: the fake GitHub, a served bot, a local OIDC issuer, PostgreSQL."""
