# Stands in for python:3.11-slim: Debian bookworm's python3 (3.11) with venv, `python` on PATH.
ARG BASE=chronosops-local/debian:bookworm
FROM ${BASE}
# Certificates of a TLS-intercepting proxy between this host and PyPI, if any (build-images.sh
# copies the host's /usr/local/share/ca-certificates/*.crt here); pip then trusts the system store.
COPY ca/ /usr/local/share/ca-certificates/
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python-is-python3 ca-certificates \
    && update-ca-certificates \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
