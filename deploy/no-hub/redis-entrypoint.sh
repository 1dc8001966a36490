#!/bin/sh
# As the official image: no protected mode (no configuration file, no password: the container
# network is the boundary), run as the redis user.
set -eu
if [ "${1:-}" = redis-server ]; then
    shift
    exec setpriv --reuid=redis --regid=redis --init-groups redis-server --protected-mode no "$@"
fi
exec "$@"
