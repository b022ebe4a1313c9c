#!/usr/bin/env bash
# What `make images` needs from Debian's archive: podman and buildah (with runc, not crun: crun refuses these
# machines' hybrid cgroups), debootstrap for a base image made without a registry, and podman's helpers; for the
# real node (tools/node): containerd, the CNI plugins, and iptables and conntrack for kube-proxy.
# Installs only what is missing; needs root (or sudo) the first time.
set -euo pipefail
wanted=(podman buildah runc debootstrap uidmap fuse-overlayfs slirp4netns catatonit containernetworking-plugins
        containerd iptables conntrack)
missing=()
for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
bash "$(dirname "$0")/apt-install-missing.sh" "container tools" ${missing[@]+"${missing[@]}"}
