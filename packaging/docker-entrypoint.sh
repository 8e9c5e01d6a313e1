#!/bin/sh
# The container's entry point: on the first start the /data volume gets the default config (0600), then
# keepwatch runs with the given arguments (default: run --config /data/keepwatch.toml).
set -e
umask 077
if [ ! -e /data/keepwatch.toml ]; then
    cp /usr/share/keepwatch/keepwatch.toml /data/keepwatch.toml
fi
exec /usr/local/bin/keepwatch "$@"
