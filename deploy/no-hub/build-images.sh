#!/bin/sh
# Local stand-ins for the public images compose.yaml and the Dockerfile name, for a Docker host
# that cannot pull from Docker Hub but reaches a Debian mirror (and PyPI, for the app's build).
# Debian bookworm from debootstrap, imported, then one image per stand-in. See
# docs/operations.md ("Without Docker Hub").
#
#   deploy/no-hub/build-images.sh            # needs root, debootstrap and a running dockerd
#   . deploy/no-hub/images.env               # PYTHON_IMAGE=… POSTGRES_IMAGE=… for compose.yaml
#
# DEBIAN_MIRROR / DEBIAN_SECURITY_MIRROR name other mirrors (default deb.debian.org).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
base=chronosops-local/debian:bookworm

if ! docker image inspect "$base" >/dev/null 2>&1; then
    rootfs=$(mktemp -d)
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror"
    cat > "$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
SOURCES
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import -c 'CMD ["bash"]' - "$base"
    rm -rf "$rootfs"
fi

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$here"/*-entrypoint.sh "$context"/
mkdir "$context/ca"
# A TLS-intercepting proxy's certificate authority, if this host trusts one: pip in the build needs it.
for crt in /usr/local/share/ca-certificates/*.crt; do
    [ -e "$crt" ] && cp "$crt" "$context/ca/"
done
while read -r name tag; do
    docker build --build-arg BASE="$base" -f "$here/$name.Dockerfile" -t "chronosops-local/$name:$tag" "$context"
done <<IMAGES
python 3.11
postgres 15
redis 7
prometheus 2.42
alertmanager 0.25
IMAGES
