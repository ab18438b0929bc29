# The image of each service, built from the repository root with the service as a build argument:
#   docker build --build-arg SERVICE=gateway .   (or auth-service, model-service)
# docker-compose.yml passes it. The shared steps come first (dependencies, sources); each service's
# own stage adds what only it needs, and the last stage is the one SERVICE names.
ARG BASE_IMAGE=python:3.11-slim
ARG SERVICE

FROM ${BASE_IMAGE} AS base
ARG SERVICE

# pip installs from the package index. A build with no index (CI, `make e2e`) passes a folder
# of wheels inside the context instead: --build-arg WHEELHOUSE=<folder> --build-arg PIP_NO_INDEX=1
# (pip reads PIP_NO_INDEX), and pip installs from those alone, every hash still checked. The
# default folder holds no wheels.
ARG WHEELHOUSE=requirements
ARG PIP_NO_INDEX=0

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app/shared-schemas/src:/app/service-runtime/src:/app/${SERVICE}/src

# Pinned, hash-checked dependencies exported from uv.lock (make requirements).
COPY requirements/${SERVICE}.txt /tmp/requirements.txt
COPY ${WHEELHOUSE} /tmp/wheels
RUN python3 -m venv /opt/venv \
    && pip install --no-cache-dir --require-hashes --find-links /tmp/wheels -r /tmp/requirements.txt \
    && rm -r /tmp/requirements.txt /tmp/wheels \
    && groupadd --system --gid 10001 servir \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin servir

WORKDIR /app
COPY shared-schemas/src shared-schemas/src
COPY service-runtime/src service-runtime/src
COPY ${SERVICE}/src ${SERVICE}/src
# Compiled now: the image sets PYTHONDONTWRITEBYTECODE, so otherwise every start compiles them.
RUN python3 -m compileall -q shared-schemas/src service-runtime/src ${SERVICE}/src


FROM base AS gateway
ENV GATEWAY_HOST=0.0.0.0
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=5 \
    CMD ["python3", "-c", "import urllib.request as r; r.urlopen('http://127.0.0.1:8000/livez', timeout=2)"]
CMD ["python3", "-m", "gateway"]


FROM base AS auth-service
ENV AUTH_HOST=0.0.0.0
# The signing keys' folder (a compose volume starts as a copy of it): the service's alone.
RUN mkdir -p /app/.data/keys \
    && chown 10001:10001 /app/.data/keys \
    && chmod 700 /app/.data/keys
USER 10001:10001
EXPOSE 8001
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=5 \
    CMD ["python3", "-c", "import urllib.request as r; r.urlopen('http://127.0.0.1:8001/readyz', timeout=2)"]
CMD ["python3", "-m", "auth_service"]


FROM base AS model-service
ENV MODEL_HOST=0.0.0.0
# LightGBM's wheel links the system's OpenMP runtime (libgomp.so.1), which python:3.11-slim
# lacks: installed here when missing. The offline e2e base image has it already
# (scripts/base_image.sh), so that build needs no package index. The import proves it loads.
# Unpinned (DL3008): the version is the one the base image's Debian release ships.
# hadolint ignore=DL3008
RUN if ! python3 -c "import ctypes; ctypes.CDLL('libgomp.so.1')" 2>/dev/null; then \
        apt-get update \
        && apt-get install -y --no-install-recommends libgomp1 \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -c "import lightgbm"
# The demo bundles, trained at build time from datasets scikit-learn ships (no download), and
# verified (their passes recorded in .verified/, so a replica's first start loads them at once);
# a new compose volume starts as a copy of this folder.
RUN python3 -m model_service.demo_models /app/models \
    && MODEL_MODELS_DIR=/app/models python3 -m model_service.models.verify_store \
    && chown -R 10001:10001 /app/models
USER 10001:10001
EXPOSE 8002
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=5 \
    CMD ["python3", "-c", "import urllib.request as r; r.urlopen('http://127.0.0.1:8002/readyz', timeout=2)"]
CMD ["python3", "-m", "model_service"]


# The image: the stage of the service asked for (BuildKit builds that one and `base` alone).
FROM ${SERVICE}
