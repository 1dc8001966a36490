# Stands in for prom/prometheus with Debian bookworm's prometheus (2.42): same entrypoint, same
# working directory, run as nobody. Debian's build keeps its TSDB in /var/lib/prometheus/metrics2
# by default (the official image's: ./data), so that directory is nobody's too.
ARG BASE=chronosops-local/debian:bookworm
FROM ${BASE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends prometheus \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /prometheus /var/lib/prometheus/metrics2 \
    && chown -R nobody:nogroup /prometheus /var/lib/prometheus
USER nobody
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
