"""The edge agent: camera frames in, face crops (or embeddings) out to the server.

One module per stage, in the order a frame goes through them:

    sources   -> frames from a video file, webcam, RTSP/HTTP stream or watched folder
    sampler   -> keeps ``fps`` frames a second
    motion    -> where the frame moved: detect only there (a whole pass every few seconds)
    detection -> fast, low-threshold face candidates on a downscaled frame
    tracker   -> track ids across frames (norfair); carries tracks where nothing moved
    bestshot  -> which shots of a track to send (policy ``best`` or ``every-frame``)
    encoder   -> crop with margin, size limits, JPEG/WebP; or an embedding
    outbox    -> durable on-disk queue (SQLite)
    uplink    -> HTTP(S) to the server with retries, backoff and idempotency keys
    agent     -> wires the stages per camera, with metrics

``edge`` never imports ``facewatch.server``: it talks to the server over HTTP only.
"""
