# Stands in for postgres:16 with Debian bookworm's PostgreSQL 15: the same data directory and the
# same POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB handling on first start (postgres-entrypoint.sh).
ARG BASE=chronosops-local/debian:bookworm
FROM ${BASE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
