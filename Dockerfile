# syntax=docker/dockerfile:1
#
# One image for every LAPOR service: `docker run IMAGE run intake` (see docker-compose.yml).
# The entrypoint is the `lapor` command line; `lapor health` is the health check.
#
#   docker build -t lapor .
#   docker run --rm lapor --help

ARG PYTHON_IMAGE=python:3.12-slim

# --- build: the project and its dependencies in a virtualenv -----------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN python -m venv /opt/lapor

WORKDIR /src

# Dependencies first, from pyproject.toml alone, so a source change reuses this layer.
# tzdata: deadlines are computed in Asia/Jakarta, whatever the base image's zoneinfo holds.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && /opt/lapor/bin/pip install -r /tmp/requirements.txt tzdata

# Then the project itself, built as a wheel and installed once (not editable); pip is then
# removed: nothing is installed at run time, and it is 16 MB the image does not need.
COPY README.md ./
COPY shared ./shared
COPY services ./services
COPY lapor ./lapor
RUN /opt/lapor/bin/pip wheel --no-deps --wheel-dir /tmp/wheels . \
    && /opt/lapor/bin/pip install --no-deps /tmp/wheels/*.whl \
    && /opt/lapor/bin/lapor --help > /dev/null \
    && /opt/lapor/bin/python -m pip uninstall --yes --quiet pip

# --- runtime: the virtualenv only, run as an unprivileged user ---------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="LAPOR" \
      org.opencontainers.image.description="Citizens' complaints about public services: intake, verification, routing, escalation" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PATH=/opt/lapor/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

RUN groupadd --system --gid 10001 lapor \
    && useradd --system --uid 10001 --gid lapor --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin lapor

COPY --from=build /opt/lapor /opt/lapor

# Empty and not writable by the service: nothing in it but what an operator mounts.
WORKDIR /app

# Numeric, so that orchestrators can verify "runAsNonRoot" without reading /etc/passwd.
USER 10001:10001

HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["lapor", "health", "--timeout", "5"]

ENTRYPOINT ["lapor"]
CMD ["--help"]
