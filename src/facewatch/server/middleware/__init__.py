"""The server's ASGI middleware: audit context, rate limits, body size and time limits, HSTS.

Security policy that is not web code (audit context, token buckets, crypto) stays in
``facewatch.security``.
"""
