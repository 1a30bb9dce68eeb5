"""The old API's semantics, built on Facewatch's own services (server/services)."""
