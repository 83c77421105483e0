"""The HTTP edge: webhooks, the read API and its streams, operations routes, metrics.

Also the one read rule (`access`), the query-string parameters (`params`), the error
answers (`errors`) and the OpenAPI document. May import the root helpers, `trail`,
`render`, `store`, `github`, `auth`, `handlers` and `workers`; never `web`,
`reporter`, `cli` or `app`.
"""
