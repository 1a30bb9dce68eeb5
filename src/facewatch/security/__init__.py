"""Security and privacy: encryption at rest (``crypto``), the audit trail's context
(``audit``), token-bucket rate limits (``ratelimit``), request body deadlines
(``timeouts``), configuration checks (``validation``) and their commands (``cli``).
See docs/security.md.
"""
