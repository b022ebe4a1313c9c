# The pod sandbox ("pause") image for the real node's containerd (tests/node): Debian's static catatonit as
# PID 1 of every pod sandbox, in place of registry.k8s.io/pause, which these machines cannot pull.
# Build context: a folder holding the catatonit binary (scripts/build-images.sh makes it).
FROM scratch
COPY catatonit /catatonit
USER 65535:65535
ENTRYPOINT ["/catatonit", "-P"]
