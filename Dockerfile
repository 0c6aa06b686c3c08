# livewatch: one image for every service of docker-compose.yml
# (`livewatch worker`, `livewatch rules-service`, `livewatch dashboard`).
#
#   docker build -t livewatch .
#   docker run --rm livewatch check
#
# Built from the registries only (Debian, PyPI): model weights come from
# registry packages through scripts/setup.d, nothing is fetched at run time.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    HOME=/app \
    LIVEWATCH_CACHE=/app/.cache/livewatch \
    LIVEWATCH_DATA_DIR=/data \
    LIVEWATCH_METRICS_PORT=9464 \
    PATH=/app/.venv/bin:$PATH

# ffmpeg: live sources; CJK fonts: the demo clip; libgl/glib/gomp: OpenCV and Paddle.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      ffmpeg fonts-noto-cjk libgl1 libglib2.0-0 libgomp1 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
RUN python -m venv /app/.venv

# Dependencies first (their layer survives code changes). Test-only pins and the
# Debian list stay out of the image.
COPY requirements/ requirements/
RUN set -e; args=""; \
    for f in requirements/*.txt; do \
      case "$(basename "$f")" in apt.txt|test.txt) ;; *) args="$args -r $f" ;; esac; \
    done; \
    pip install -q $args

COPY pyproject.toml ./
COPY events/ events/
COPY ingest/ ingest/
COPY frames/ frames/
COPY ocr/ ocr/
COPY logos/ logos/
COPY asr/ asr/
COPY rules/ rules/
COPY alerts/ alerts/
COPY livewatch/ livewatch/
COPY dashboard/ dashboard/
COPY bench/ bench/
COPY scripts/ scripts/
# Whisper weights land where AsrOptions looks by default (~/.cache/livewatch, HOME=/app).
RUN pip install -q --no-deps -e . \
 && bash scripts/setup.d/20-whisper.sh \
 && bash scripts/setup.d/30-ocr-models.sh

RUN useradd --system --uid 10001 --home-dir /app livewatch \
 && mkdir -p /data "$LIVEWATCH_CACHE" \
 && chown -R livewatch /data "$LIVEWATCH_CACHE"
USER livewatch
# Per-container state (the worker's SQLite alert outbox); compose mounts the
# shared snapshot volume under it.
VOLUME ["/data"]
# 9464: /metrics, /healthz, /readyz of workers and the rules service; 8080: the dashboard.
EXPOSE 9464 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["livewatch"]
CMD ["worker"]
