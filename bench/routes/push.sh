#!/usr/bin/env bash
# push.sh IMAGE BASE COUNTER_FILE — build and push the next version of the bench's web image
# under its one floating tag (a new digest each time, so every redeploy changes the image).
set -euo pipefail
image=$1 base=$2 counter=$3
n=$(($(cat "$counter" 2>/dev/null || echo 0) + 1))
echo "$n" > "$counter"
printf 'FROM %s\nRUN echo %s > /www/version\n' "$base" "$n" | docker build -q -t "$image" - >/dev/null
docker push -q "$image" >/dev/null
