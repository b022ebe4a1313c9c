# The operator image: `nago-operator` (kopf) with the nago library, non-root, no build tools at run time.
# Build from the repository root:  docker build -t nago-operator .
# Multi-stage: the first stage builds a virtual environment, the second copies only that environment onto the
# same slim base. Build arguments (the defaults are what users get):
#   BASE         the Python base image
#   TORCH_INDEX  where torch comes from: PyTorch's CPU-only index (the operator fits GPs and BNNs, it never
#                trains); a builder that cannot reach it passes https://pypi.org/simple (PyPI's wheel is the
#                larger CUDA build)
#   PIP_NO_CACHE_DIR  1 (default): pip keeps no cache in the image (hence the DL3042 ignores); a builder
#                that mounts a cache at /root/.cache/pip passes 0 (a build-time mount, never a layer)
ARG BASE=python:3.11.10-slim-bookworm
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
FROM ${BASE} AS build
ARG PIP_NO_CACHE_DIR=1
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
ARG TORCH_INDEX
# hadolint ignore=DL3042
RUN pip install --index-url "${TORCH_INDEX}" "torch>=2.4,<3"
# Up to here the two images build the same steps: given the same index, they share the torch layer.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY nago ./nago
COPY operator ./operator
# hadolint ignore=DL3042
RUN pip install "./[operator]"

FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH HOME=/tmp
COPY --from=build /opt/venv /opt/venv
RUN useradd --no-create-home --uid 10001 --shell /usr/sbin/nologin nago
USER 10001
EXPOSE 8000 8080
ENTRYPOINT ["nago-operator"]
