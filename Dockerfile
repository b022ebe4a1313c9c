# The nago image: the library and its `nago` command line. The operator's entry point is added
# when the operator lands; until then this image runs `nago` (sample, describe, draw, ...).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY nago ./nago
COPY operator ./operator
RUN pip install --no-cache-dir . && useradd --create-home --uid 10001 nago
USER 10001
ENTRYPOINT ["nago"]
CMD ["--help"]
