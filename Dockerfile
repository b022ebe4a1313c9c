# The operator image: `nago-operator` (kopf) with the nago library, non-root, no build tools at run time.
# Build from the repository root:  docker build -t nago-operator .
# Multi-stage: the first stage builds a virtual environment (CPU-only torch: the operator fits GPs and BNNs,
# it never trains), the second copies only that environment onto the same slim base.
FROM python:3.11.10-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY nago ./nago
COPY operator ./operator
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch>=2.4,<3" \
    && pip install "./[operator]"

FROM python:3.11.10-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH HOME=/tmp
COPY --from=build /opt/venv /opt/venv
RUN useradd --no-create-home --uid 10001 --shell /usr/sbin/nologin nago
USER 10001
EXPOSE 8000 8080
ENTRYPOINT ["nago-operator"]
