# The operator image: `nago-operator` (kopf) with the nago library, non-root.
# Build from the repository root:  docker build -t nago-operator .
# One stage on a slim base. Build arguments (the defaults are what users get):
#   BASE         the Python base image
#   TORCH_INDEX  where torch comes from: PyTorch's CPU-only index (the operator fits GPs and BNNs, it never
#                trains); a builder that cannot reach it passes https://pypi.org/simple (PyPI's wheel is the
#                larger CUDA build)
#   PIP_NO_CACHE_DIR  1 (default): pip keeps no cache in the image (hence the DL3042 ignores); a builder
#                that mounts a cache at /root/.cache/pip passes 0 (a build-time mount, never a layer)
# The steps up to the torch install are the trainer image's (trainer_image/Dockerfile), word for word: given the
# same BASE and TORCH_INDEX, a builder with a layer cache stores the torch layer once for both images, and a node
# pulls it once. Keep them identical.
ARG BASE=python:3.11.10-slim-bookworm
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
FROM ${BASE}
ARG PIP_NO_CACHE_DIR=1
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
ARG TORCH_INDEX
# hadolint ignore=DL3042
RUN python -m venv /opt/venv && pip install --index-url "${TORCH_INDEX}" "torch>=2.4,<3"
# The package's sources: copied, not bind-mounted, so a builder's layer cache sees when they change (buildah
# keys a RUN with a bind mount by its text alone and reused a stale install). They stay in a small layer.
COPY pyproject.toml README.md /tmp/src/
COPY nago /tmp/src/nago
COPY operator /tmp/src/operator
# hadolint ignore=DL3042
RUN pip install "/tmp/src[operator]" && rm -rf /tmp/src/build
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOME=/tmp
RUN useradd --no-create-home --uid 10001 --shell /usr/sbin/nologin nago
USER 10001
EXPOSE 8000 8080
ENTRYPOINT ["nago-operator"]
