#!/usr/bin/env bash
# Start RabbitMQ with LAPOR's definitions: users, permissions and the vhost `lapor`.
#
# deploy/rabbitmq/definitions.json holds no secret: each password is a placeholder
# {{NAME}} filled here from the environment variable NAME (docker-compose passes them
# from .env). The rendered file goes to a tmpfs (never to a volume or the image), readable
# by the broker only, and the broker loads it on every boot (rabbitmq.conf), so changing a
# password in .env and restarting the container is enough to rotate it. The variables are
# then removed from the broker's environment.
#
#   entrypoint.sh rabbitmq-server        render, then run the image's own entrypoint
#   entrypoint.sh --render-only          render and stop (used by .ci/compose-check)
set -euo pipefail
# bash 5.2 would give '&' in a replacement a meaning; passwords are literal text.
shopt -u patsub_replacement 2>/dev/null || true

template="${LAPOR_DEFINITIONS_TEMPLATE:-/etc/lapor/rabbitmq/definitions.json}"
target="${LAPOR_DEFINITIONS_FILE:-/run/lapor/definitions.json}"
# Passwords go into amqp:// URLs and into JSON unescaped, so they are kept to characters
# that need no escaping in either; 'openssl rand -hex 32' makes a good one.
password_rule='^[A-Za-z0-9._~-]{16,128}$'

definitions="$(<"$template")"
names="$(grep -o '{{[A-Z0-9_]*}}' "$template" | tr -d '{}' | sort -u)"
failed=0
for name in $names; do
    value="${!name:-}"
    if [[ -z "$value" ]]; then
        echo >&2 "lapor: $name is not set (see .env.example)"
        failed=1
    elif [[ ! "$value" =~ $password_rule ]]; then
        echo >&2 "lapor: $name must be 16 to 128 characters from A-Z a-z 0-9 . _ ~ -"
        failed=1
    else
        definitions="${definitions//"{{$name}}"/$value}"
    fi
done
if ((failed)); then
    exit 1
fi

saved_umask="$(umask)"
umask 077
mkdir -p "$(dirname "$target")"
printf '%s\n' "$definitions" >"$target.tmp"
mv "$target.tmp" "$target"
umask "$saved_umask"
if [[ "$(id -u)" == 0 ]] && id rabbitmq >/dev/null 2>&1 && [[ "${1:-}" != --render-only ]]; then
    chown rabbitmq:rabbitmq "$target"  # the image's entrypoint drops to this user
fi
echo >&2 "lapor: rendered RabbitMQ definitions to $target"

if [[ "${1:-}" == --render-only ]]; then
    exit 0
fi
for name in $names; do
    unset "$name"
done
exec docker-entrypoint.sh "$@"
