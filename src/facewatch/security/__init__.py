"""Security and privacy building blocks with no server or CLI in them: encryption at rest
(``crypto``), the audit trail's context (``audit``), token-bucket rate limits
(``ratelimit``), request body timeouts (``timeouts``) and configuration checks
(``validation``). See docs/security.md.
"""
