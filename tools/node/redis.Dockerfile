# The bundled Redis for the real node of the cluster tier (tests/node): Debian's redis-server on the same
# debootstrap base as the project's images, standing in for the chart's default `redis:7.4-alpine`, which
# these machines cannot pull. Only `make images` builds it; users keep the chart's image.
ARG BASE=localhost/nago-base:dev
FROM ${BASE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server=5:7.* \
    && rm -rf /var/lib/apt/lists/*
USER 999:999
EXPOSE 6379
CMD ["redis-server", "--dir", "/data"]
