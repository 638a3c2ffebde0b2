# syntax=docker/dockerfile:1
#
# The docanchor image: the `docanchor` command (API server, deploy, CLI) on a
# slim Python 3.11, run by an unprivileged user. docker-compose.yml runs it as
# `deploy` (one shot) and as `api` (`docanchor serve`).
#
# The package is installed as a plain (non-editable) wheel with every
# dependency pinned by requirements.lock; the contract artifact, the web page
# and the database migrations travel inside it as package data. Nothing from
# a local data directory (.docanchor/: keys, deployment record, database) is
# copied in: .dockerignore lets through pyproject.toml, requirements.lock,
# README.md and src/ only.

FROM python:3.11.13-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/docanchor
WORKDIR /build
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
RUN /opt/docanchor/bin/pip install -c requirements.lock . \
 && /opt/docanchor/bin/docanchor --help >/dev/null

FROM python:3.11.13-slim-bookworm
# The data directory is created here, owned by the service user, so that a
# named volume mounted on it starts out writable by that user.
RUN groupadd --system --gid 10001 docanchor \
 && useradd --system --uid 10001 --gid docanchor --home-dir /var/lib/docanchor \
      --no-create-home --shell /usr/sbin/nologin docanchor \
 && mkdir -p /var/lib/docanchor \
 && chown docanchor:docanchor /var/lib/docanchor
COPY --from=build /opt/docanchor /opt/docanchor
ENV PATH=/opt/docanchor/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DOCANCHOR_DATA_DIR=/var/lib/docanchor
WORKDIR /var/lib/docanchor
USER docanchor:docanchor
EXPOSE 8000
# Slim images have no curl; the image's own Python asks /healthz (a 503 fails too).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["docanchor"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
