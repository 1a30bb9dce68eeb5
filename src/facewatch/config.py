"""Settings: ``FACEWATCH_*`` environment variables, an optional YAML file, sane offline defaults.

Precedence, highest first: keyword arguments, environment variables, the YAML file named by
``FACEWATCH_CONFIG_FILE`` (or passed as ``config_file``), the defaults below.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import yaml
from platformdirs import user_data_dir
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from facewatch.errors import ConfigurationError

if TYPE_CHECKING:
    from facewatch.vision.config import VisionConfig

DetectorName = Literal["hog", "haar", "onnx", "mmod"]
EmbedderName = Literal["edgeface", "dlib", "onnx", "dlib_native"]
IndexName = Literal["auto", "exact", "hnsw", "hnsw_sq8"]
AnnKind = Literal["by_dim", "hnsw", "hnsw_sq8"]


def default_data_dir() -> Path:
    """The per-user data directory (e.g. ``~/.local/share/facewatch``)."""
    return Path(user_data_dir("facewatch", appauthor=False))


class Settings(BaseSettings):
    """Every knob of Facewatch, with the reason for its default."""

    model_config = SettingsConfigDict(
        env_prefix="FACEWATCH_", extra="forbid", validate_default=True, frozen=True
    )

    # --- storage -----------------------------------------------------------------------
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the embedded database and the blob store live by default.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite file facewatch.db in data_dir.",
    )
    blob_url: str | None = Field(
        default=None,
        description="Directory for images and crops (content-addressed); default: data_dir/blobs.",
    )
    auto_migrate: bool = Field(
        default=True,
        description="Upgrade the database schema at start-up (refuses a newer schema anyway).",
    )

    # --- vision ------------------------------------------------------------------------
    detector: DetectorName = Field(
        default="hog",
        description=(
            "Face detector used to (re-)detect faces: hog, haar, onnx (a user-supplied "
            "Ultra-Light model) or mmod (dlib's CNN converted to ONNX: slower, finds turned faces)."
        ),
    )
    hog_upsample: int | None = Field(
        default=None,
        ge=0,
        le=3,
        description=(
            "Times the HOG detector upsamples the image; None picks 1 for images up to "
            "hog_auto_upsample_pixels and 0 above (upsampling a 1080p frame costs ~0.7 s)."
        ),
    )
    hog_auto_upsample_pixels: int = Field(
        default=1_000_000, gt=0, description="Largest image that auto mode still upsamples."
    )
    mmod_upsample: int = Field(
        default=0,
        ge=0,
        le=2,
        description="Times the mmod detector doubles the image (0 finds faces from ~80 px).",
    )
    onnx_detector_path: Path | None = Field(
        default=None, description="A user-supplied Ultra-Light ONNX face detector file."
    )
    onnx_score_threshold: float = Field(
        default=0.7, gt=0, lt=1, description="Minimum face score of the ONNX detector."
    )
    embedder: EmbedderName = Field(
        default="edgeface",
        description=(
            "Face embedder: edgeface (EdgeFace-XS, 512-d, shipped in the package; 97% of known "
            "people named at 1% of strangers with one photo each on LFW, docs/accuracy.md), "
            "dlib (dlib's ResNet 128-d on onnxruntime; 'onnx' is the same) or dlib_native "
            "(dlib's ResNet on dlib itself, ~20x slower). Changing it on an install with "
            "people enrolled re-embeds their stored photos in the background "
            "(docs/models.md); the old model answers until the new one covers everyone."
        ),
    )
    embedder_threads: int = Field(
        default=0,
        ge=0,
        le=64,
        description=(
            "Threads onnxruntime uses per embedding call; 0: automatic (one per core in one "
            "process, one in each of the server's analysis workers, which use every core)."
        ),
    )
    embedder_batch_size: int = Field(
        default=32, ge=1, le=256, description="Most face chips embedded in one model call."
    )
    model_cache_dir: Path | None = Field(
        default=None,
        description=(
            "Where models converted to ONNX are cached (keyed by the source file's sha256); "
            "default: the user cache dir (e.g. ~/.cache/facewatch/models)."
        ),
    )

    # --- recognition: each embedder declares its calibrated defaults (ModelSpec) ---------
    # Distances are Euclidean between the model's embeddings (unit vectors for a cosine
    # model). Unset (None), each threshold is the serving model's calibrated default; a
    # value set here applies whatever the model, so set them only with one embedder.
    match_threshold: float | None = Field(
        default=None,
        gt=0,
        description=(
            "At or under this score a face is named; default: the model's (dlib 0.5, which "
            "names ~1% of strangers in a 100-person gallery; EdgeFace: docs/accuracy.md)."
        ),
    )
    unknown_threshold: float | None = Field(
        default=None,
        gt=0,
        description=(
            "At or over this score a face is unknown; between the two, uncertain; default: "
            "the model's."
        ),
    )
    top_k: int = Field(default=3, ge=1, le=50, description="Candidates returned per face.")
    margin_weight: float | None = Field(
        default=None,
        ge=0,
        le=5,
        description=(
            "Penalty weight when the runner-up person is almost as near: the decision score is "
            "distance + weight * (margin_cap - min(lead, margin_cap)). It never names a face "
            "the distance alone would not (docs/accuracy.md). 0: distance alone. Needs "
            "top_k >= 2 (the runner-up is among the candidates). Default: the model's."
        ),
    )
    margin_cap: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="A lead over the runner-up of this much costs nothing; default: the model's.",
    )

    # --- gallery index -----------------------------------------------------------------
    gallery_index: IndexName = Field(
        default="auto",
        description=(
            "Vector index of the gallery: exact (numpy), hnsw (hnswlib, float32), hnsw_sq8 "
            "(faiss HNSW over 8-bit codes, re-ranked exactly from float32 rows on disk), or "
            "auto: exact up to gallery_ann_threshold templates, gallery_ann_kind above."
        ),
    )
    gallery_ann_kind: AnnKind = Field(
        default="by_dim",
        description=(
            "The approximate index auto switches to: by_dim picks hnsw_sq8 from 256 "
            "dimensions (EdgeFace's 512: half the memory at a million), hnsw below."
        ),
    )
    gallery_sq_ef_search: int = Field(
        default=128, ge=8, description="hnsw_sq8's search width over the 8-bit codes."
    )
    gallery_sq_rerank: int = Field(
        default=64, ge=1, description="hnsw_sq8's candidates re-ranked by exact distance."
    )
    gallery_vector_dir: Path | None = Field(
        default=None,
        description=(
            "Where hnsw_sq8 keeps its float32 rows (an unlinked scratch file; on disk, not "
            "tmpfs); default: data_dir/vectors."
        ),
    )
    gallery_ann_threshold: int = Field(
        default=20_000,
        ge=1,
        description="Templates above which auto switches to the HNSW index (exact under half).",
    )
    hnsw_m: int = Field(
        default=32, ge=2, le=128, description="HNSW links per node: recall and memory rise with it."
    )
    hnsw_ef_construction: int = Field(
        default=200, ge=8, description="HNSW build-time search width: graph quality vs build time."
    )
    hnsw_ef_search: int = Field(
        default=256, ge=8, description="HNSW search width: recall vs search time (at least k)."
    )
    gallery_snapshot: bool = Field(
        default=True,
        description=(
            "Save the gallery when the server stops and load it from there at start, brought "
            "up to date with the database (much faster than reading every template). Never "
            "with an encryption key: the snapshot would hold the embeddings in clear."
        ),
    )
    gallery_snapshot_dir: Path | None = Field(
        default=None,
        description=(
            "Where the gallery snapshot is kept (default: data_dir/gallery); local to the "
            "replica; the database stays the source of truth."
        ),
    )

    # --- enrolment quality -------------------------------------------------------------
    min_face_size: int = Field(
        default=60, ge=20, description="Smallest face box side (px) accepted for enrolment."
    )
    min_sharpness: float = Field(
        default=15.0,
        ge=0,
        description="Lowest Laplacian variance of the aligned chip accepted for enrolment.",
    )
    max_yaw: float = Field(
        default=40.0, gt=0, le=90, description="Most head turn (degrees) accepted for enrolment."
    )
    enrolment_jitter: bool = Field(
        default=False,
        description=(
            "Make each enrolment template the mean of the embeddings of 10 slightly moved "
            "copies of the face (mirrored, shifted, scaled, turned; vision/augment.py). With "
            "one photo per person it names 70.6% instead of 65.8% of known faces at 1% of "
            "strangers named, but the templates sit nearer every face: at the same thresholds "
            "it names 2.5% of strangers instead of 1.8%, so turn it on with match_threshold "
            "0.48 (docs/accuracy.md). Costs 9 more embeddings per enrolment photo."
        ),
    )

    # --- input limits ------------------------------------------------------------------
    max_image_pixels: int = Field(
        default=40_000_000,
        gt=0,
        description="Largest image accepted (width x height); guards against pixel bombs.",
    )
    max_upload_bytes: int = Field(
        default=20 * 1024 * 1024, gt=0, description="Largest single uploaded file, in bytes."
    )
    max_request_bytes: int = Field(
        default=100 * 1024 * 1024,
        gt=0,
        description="Largest request body, in bytes (several photos in one enrolment).",
    )

    # --- server ------------------------------------------------------------------------
    host: str = Field(default="127.0.0.1", description="Address `facewatch serve` binds.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `facewatch serve` binds.")
    analysis_workers: int | None = Field(
        default=None,
        ge=0,
        le=64,
        description=(
            "Processes in which the server analyses images (detect, align, embed), so that "
            "requests use every core; None: one per core; 0: in the request thread. "
            "Concurrent requests reaching a busy pool are analysed together in one batch."
        ),
    )
    analysis_batch_size: int = Field(
        default=16, ge=1, le=256, description="Most images one analysis worker takes at once."
    )
    recognize_queue_size: int = Field(
        default=64,
        ge=1,
        le=10_000,
        description=(
            "Most images POST /api/v1/recognize holds at once per server process (decoding or "
            "waiting for analysis); one more is refused with 503 and Retry-After rather than "
            "queued, so a burst cannot pile up without bound. The ingest routes are bounded "
            "by the server's thread pool instead."
        ),
    )

    api_key_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description=(
            "How long a verified API key is trusted without another database lookup; a "
            "revocation made through this server, or heard from another replica, applies at "
            "once; one the replicas do not hear of (the CLI on a SQLite file the server "
            "has open) within this time. 0: every request looks its key up."
        ),
    )

    # --- dashboard logins (docs/dashboard.md) -------------------------------------------
    session_idle_minutes: int = Field(
        default=480,
        ge=5,
        le=7 * 24 * 60,
        description="A dashboard session ends after this long without a request (one shift).",
    )
    session_max_hours: int = Field(
        default=24,
        ge=1,
        le=30 * 24,
        description="A dashboard session ends this long after login, however active.",
    )
    session_cookie_secure: Literal["auto", "always"] = Field(
        default="auto",
        description=(
            "'auto' marks the session cookie Secure when the request came over https (behind "
            "a proxy, run uvicorn with --proxy-headers); 'always' marks it Secure regardless."
        ),
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Consecutive wrong passwords that lock an account.",
    )
    login_lockout_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="How long a locked account stays locked."
    )
    login_address_limit: int = Field(
        default=20,
        ge=1,
        le=10_000,
        description=(
            "Failed logins one address may make per login_address_window_minutes (any "
            "usernames) before it gets 429; guards against password spraying."
        ),
    )
    login_address_window_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="The window of login_address_limit."
    )

    # --- edge agents' health (docs/edge.md) --------------------------------------------
    edge_stale_after_seconds: float = Field(
        default=90.0,
        ge=1,
        le=86_400,
        description=(
            "A camera whose edge agent sent no heartbeat for this long is marked stale, "
            "which raises camera.stale (its next heartbeat raises camera.recovered). The "
            "default is three of the agent's default 30 s heartbeats."
        ),
    )
    edge_health_check_seconds: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description=(
            "How often the replica running scheduled jobs looks for quiet cameras; 0: never "
            "(no camera is marked stale)."
        ),
    )

    # --- events: rules, live stream, webhooks, MQTT (docs/events.md) -----------------
    event_cooldown_seconds: float = Field(
        default=60.0,
        ge=0,
        description=(
            "A person (or stranger) seen again on the same camera within this many seconds "
            "of their last sighting raises no new event; 0 raises one per detection."
        ),
    )
    event_queue_size: int = Field(
        default=1000,
        ge=1,
        le=1_000_000,
        description=(
            "Length of each bounded event queue (dispatcher, webhooks, MQTT); when one is "
            "full, new items are dropped and counted rather than slowing down ingest."
        ),
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://\S+$",
        description=(
            "The base URL clients reach this server at (https://facewatch.example.org); "
            "makes the crop_url of events absolute. Unset: crop_url is a path."
        ),
    )
    sse_heartbeat_seconds: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="A comment line keeps idle event streams open through proxies this often.",
    )
    webhook_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, description="Time one webhook attempt may take, in seconds."
    )
    webhook_max_attempts: int = Field(
        default=5,
        ge=1,
        le=20,
        description="Attempts per webhook delivery, the first included, before giving up.",
    )
    webhook_backoff_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Wait before the first retry of a webhook delivery; doubled for each next.",
    )
    webhook_backoff_max_seconds: float = Field(
        default=300.0, gt=0, description="Longest wait between two attempts of one delivery."
    )
    mqtt_url: str | None = Field(
        default=None,
        pattern=r"^mqtts?://\S+$",
        description=(
            "MQTT broker, as mqtt://[user:password@]host[:port] (mqtts:// for TLS). Unset, "
            "nothing is published to MQTT."
        ),
    )
    mqtt_topic_prefix: str = Field(
        default="facewatch",
        pattern=r"^[^#+\s/][^#+\s]*[^#+\s/]$|^[^#+\s/]$",
        description="First level of every topic Facewatch publishes (no wildcards or spaces).",
    )
    mqtt_client_id: str | None = Field(
        default=None,
        max_length=64,
        description="MQTT client id; unset, a random one (each replica needs its own).",
    )
    ha_discovery: bool = Field(
        default=True,
        description="Announce Home Assistant sensors (MQTT discovery) when MQTT is on.",
    )
    ha_discovery_prefix: str = Field(
        default="homeassistant",
        pattern=r"^[^#+\s/]+$",
        description="Home Assistant's MQTT discovery prefix (as set in Home Assistant).",
    )

    # --- strangers: unknown identities, visits, photo metadata (docs/unknowns.md) -------
    unknown_cluster_threshold: float | None = Field(
        default=None,
        gt=0,
        le=2,
        description=(
            "An unknown face joins the nearest stranger identity whose centroid is at most "
            "this far (else it starts a new one); re-clustering links two faces this close. "
            "Default: the model's (dlib 0.45: on 4,024 LFW people it mixes 4% of faces into "
            "another's stranger and splits 8% off; see docs/unknowns.md)."
        ),
    )
    unknown_recluster_interval: float = Field(
        default=3600.0,
        ge=0,
        description=(
            "Seconds between two re-clusterings of the strangers (merges and splits), run by "
            "one replica; 0 leaves it to `facewatch unknowns recluster`."
        ),
    )
    unknown_recluster_max_faces: int = Field(
        default=20_000,
        ge=2,
        le=1_000_000,
        description="Newest unknown faces a re-clustering reads (older ones keep their ids).",
    )
    unknown_track_seconds: float = Field(
        default=600.0,
        ge=0,
        description=(
            "An unknown face of an edge track joins the identity the same camera's track was "
            "given within this many seconds, whatever the distance; 0 ignores tracks."
        ),
    )
    unknown_name_templates: int = Field(
        default=5,
        ge=1,
        le=50,
        description="Best faces of a stranger that become templates when it is named.",
    )
    visit_gap_seconds: float = Field(
        default=300.0,
        gt=0,
        description=(
            "Two sightings of one identity at one camera (or zone) further apart than this "
            "are two visits."
        ),
    )
    exif_timezone: str = Field(
        default="UTC",
        description=(
            "Time zone of EXIF capture times that carry no offset (an IANA name such as "
            "Europe/Paris); a photo's EXIF time is used when a detection comes with none."
        ),
    )

    # --- cloud-face-recognition compatibility (docs/migrating-from-cloud-face-recognition.md)
    compat_cloud_api: bool = Field(
        default=False,
        description=(
            "Also serve the cloud-face-recognition REST API at the root (/dataset, /model/..., "
            "/face-recognition/..., /database/..., /debug/...) so its old clients work unchanged."
        ),
    )
    compat_allow_anonymous: bool = Field(
        default=False,
        description=(
            "Let the compat routes work without an API key, as the old API did. A RISK: anyone "
            "who can reach the server may then enrol, delete and recognise people."
        ),
    )
    compat_forward_url: str | None = Field(
        default=None,
        pattern=r"^https?://\S+$",
        description=(
            "Where POST /face-recognition/send-results forwards each face (an HTTP GET with "
            "the parameters id, camera and blueprint); unset, that route answers 400."
        ),
    )

    # --- scale-out: S3 blobs, replicas, metrics (docs/deployment.md) ---------------------
    s3_endpoint_url: str | None = Field(
        default=None,
        pattern=r"^https?://\S+$",
        description=(
            "Endpoint of S3-compatible storage (MinIO, Ceph, Garage...) when blob_url is "
            "s3://bucket/prefix; unset: AWS S3."
        ),
    )
    s3_region: str | None = Field(
        default=None, description="Region of the bucket; unset: boto3's usual lookup."
    )
    s3_access_key_id: str | None = Field(
        default=None,
        description="S3 access key; unset: boto3's usual chain (AWS_* variables, IAM role).",
    )
    s3_secret_access_key: SecretStr | None = Field(
        default=None, description="S3 secret key, with s3_access_key_id (never logged)."
    )
    gallery_sync_interval: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description=(
            "Seconds between this replica's cheap checks that its in-memory gallery matches "
            "the database, so a change made through another replica shows within this time "
            "(on PostgreSQL a NOTIFY also wakes every replica at once)."
        ),
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description=(
            "If set, GET /metrics needs 'Authorization: Bearer <token>' (Prometheus' "
            "bearer_token); unset, /metrics is open like /healthz: keep it off the Ingress."
        ),
    )

    # --- security and privacy (docs/security.md) ----------------------------------------
    development_mode: bool = Field(
        default=False,
        description=(
            "A development setup: `facewatch config validate` then warns about default or "
            "weak secrets, a missing encryption key and plain http instead of refusing them."
        ),
    )
    tls_cert: Path | None = Field(
        default=None,
        description="PEM certificate (chain) `facewatch serve` answers https with; needs tls_key.",
    )
    tls_key: Path | None = Field(
        default=None, description="PEM private key of tls_cert (keep it readable by no one else)."
    )
    encryption_key: SecretStr | None = Field(
        default=None,
        description=(
            "32 random bytes, base64 (make one with `facewatch admin new-key`): embeddings and "
            "face images are then stored encrypted (AES-256-GCM). Unset: stored in clear."
        ),
    )
    encryption_old_keys: SecretStr | None = Field(
        default=None,
        description=(
            "Earlier encryption keys, comma-separated, still used to read until "
            "`facewatch admin rotate-key` has re-encrypted everything with encryption_key."
        ),
    )
    erasure_detections: Literal["delete", "anonymize"] = Field(
        default="delete",
        description=(
            "What deleting a person does to their detections: delete them, or keep them "
            "anonymised (time and camera only: no person, crop, embedding or candidates)."
        ),
    )
    retention_unknown_faces_days: float = Field(
        default=30.0,
        ge=0,
        description=(
            "Days the crops and embeddings of strangers' faces (nobody enrolled) are kept "
            "after they were received; 0 keeps them."
        ),
    )
    retention_detections_days: float = Field(
        default=365.0,
        ge=0,
        description="Days a detection is kept after it was received (crop included); 0: always.",
    )
    retention_events_days: float = Field(
        default=365.0, ge=0, description="Days an event is kept after it was raised; 0: always."
    )
    retention_interval_seconds: float = Field(
        default=3600.0,
        ge=0,
        description=(
            "Seconds between two scheduled purges of what outlived its retention, run by one "
            "replica; 0 leaves it to `facewatch admin purge`."
        ),
    )
    rate_limit_recognize_per_minute: int = Field(
        default=600,
        ge=0,
        description=(
            "Recognitions (POST /api/v1/recognize, search by photo) one API key or dashboard "
            "login may ask per minute; 0: no limit. Over it: 429 with Retry-After."
        ),
    )
    rate_limit_ingest_per_minute: int = Field(
        default=6000,
        ge=0,
        description="Ingest requests (detections, edge batches) per API key per minute; 0: off.",
    )
    rate_limit_search_per_minute: int = Field(
        default=600,
        ge=0,
        description="Searches (detections, events, people) per key or login per minute; 0: off.",
    )
    rate_limit_address_multiplier: float = Field(
        default=4.0,
        ge=1,
        description=(
            "One client address may make this many times a key's rate (several devices can "
            "share an address behind NAT); unauthenticated floods are held to it too."
        ),
    )
    rate_limit_burst_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="A client may burst this many seconds' worth of its rate at once.",
    )
    request_body_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Longest time a client may take to send a request body (slow loris); 408.",
    )

    # Where the YAML file was read from; set through FACEWATCH_CONFIG_FILE or config_file=...
    config_file: Path | None = Field(default=None, description="Optional YAML settings file.")

    @model_validator(mode="after")
    def _check_thresholds(self) -> Settings:
        match, unknown = self.match_threshold, self.unknown_threshold
        if match is not None and unknown is not None and unknown < match:
            raise ValueError("unknown_threshold must be at or above match_threshold")
        if self.detector == "onnx" and self.onnx_detector_path is None:
            raise ValueError("detector 'onnx' needs onnx_detector_path")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: give both or neither")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        yaml_path = _yaml_path(init_settings, env_settings)
        if yaml_path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_path))
        return tuple(sources)

    def recognition(self, defaults: RecognitionValues) -> Recognition:
        """The recognition thresholds in force: each setting given here, else ``defaults``.

        ``defaults`` are the serving model's calibrated values (``ModelSpec.defaults``).
        """
        resolved = Recognition(
            match_threshold=_given(self.match_threshold, defaults.match_threshold),
            unknown_threshold=_given(self.unknown_threshold, defaults.unknown_threshold),
            margin_weight=_given(self.margin_weight, defaults.margin_weight),
            margin_cap=_given(self.margin_cap, defaults.margin_cap),
            cluster_threshold=_given(self.unknown_cluster_threshold, defaults.cluster_threshold),
        )
        if resolved.unknown_threshold < resolved.match_threshold:
            raise ConfigurationError(
                f"unknown_threshold {resolved.unknown_threshold} is below match_threshold "
                f"{resolved.match_threshold} (one was set, the other is the model's default)"
            )
        return resolved

    # --- derived paths -----------------------------------------------------------------
    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'facewatch.db'}"

    @property
    def blob_dir(self) -> Path:
        if self.blob_url:
            if self.blob_url.startswith("s3://"):
                raise ConfigurationError("blob_url points to S3 storage, not to a directory")
            return Path(self.blob_url.removeprefix("file://"))
        return self.data_dir / "blobs"


class RecognitionValues(Protocol):
    """Recognition thresholds, as a model declares them (``ModelSpec.defaults``)."""

    @property
    def match_threshold(self) -> float: ...

    @property
    def unknown_threshold(self) -> float: ...

    @property
    def margin_weight(self) -> float: ...

    @property
    def margin_cap(self) -> float: ...

    @property
    def cluster_threshold(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Recognition:
    """The recognition thresholds in force for one model (``Settings.recognition``)."""

    match_threshold: float
    unknown_threshold: float
    margin_weight: float
    margin_cap: float
    cluster_threshold: float


def vision_config(settings: Settings) -> VisionConfig:
    """The part of ``settings`` vision reads, frozen into vision's own config."""
    # Imported here: importing vision loads dlib and onnxruntime (~2 s), reading settings not.
    from facewatch.vision.config import VisionConfig

    return VisionConfig.of(settings)


def _given(value: float | None, default: float) -> float:
    return default if value is None else value


def _yaml_path(*sources: PydanticBaseSettingsSource) -> Path | None:
    for source in sources:
        value: Any = source().get("config_file")
        if value:
            path = Path(value)
            if not path.is_file():
                raise ConfigurationError(f"config file not found: {path}")
            _check_yaml(path)
            return path
    return None


def _check_yaml(path: Path) -> None:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"config file {path} is not valid YAML: {exc}") from exc
    if loaded is not None and not isinstance(loaded, dict):
        raise ConfigurationError(f"config file {path} must hold a mapping of settings")
