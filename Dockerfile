# ChronosOps, built from the same pyproject.toml and constraints.txt as `make install`.
# PYTHON_IMAGE names another Python 3.11 base (a mirror, or deploy/no-hub's stand-in for a host
# that cannot pull from Docker Hub); the default is the public image.
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
# The dependencies in a layer of their own, before the sources: a change to src/ rebuilds only
# the last step instead of downloading every dependency again.
COPY pyproject.toml constraints.txt ./
RUN python -m venv /opt/chronosops \
    && /opt/chronosops/bin/pip install --no-cache-dir --upgrade pip \
    && /opt/chronosops/bin/python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > dependencies.txt \
    && /opt/chronosops/bin/pip install --no-cache-dir -c constraints.txt -r dependencies.txt
COPY README.md ./
COPY src ./src
RUN /opt/chronosops/bin/pip install --no-cache-dir --no-deps -c constraints.txt .

FROM ${PYTHON_IMAGE}
COPY --from=build /opt/chronosops /opt/chronosops
ENV PATH=/opt/chronosops/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CHRONOSOPS_HOST=0.0.0.0 \
    CHRONOSOPS_PORT=8080
RUN useradd --system --uid 10001 chronosops && mkdir /data && chown chronosops /data
USER chronosops
WORKDIR /data
EXPOSE 8080
# `chronosops worker` for the job runner; `chronosops db upgrade` once per release.
CMD ["chronosops", "serve"]
