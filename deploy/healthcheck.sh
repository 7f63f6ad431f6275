#!/bin/bash
# The image's HEALTHCHECK (deploy/Dockerfile): GET /health of the `siamface serve` running in this
# container, on the --host/--port it was started with (read from its command line, so a
# `docker run ... siamface serve --port 8080` is checked on 8080). Exit 0 only on HTTP 200.
# Plain bash (/dev/tcp): the image needs no HTTP client for it. A container that runs
# `watch` only has no HTTP port: it is healthy while the process runs.
serving=0
for cmdline in /proc/[0-9]*/cmdline; do
  mapfile -d '' -t argv < "$cmdline" 2>/dev/null || continue
  [ "${argv[0]##*/}" = siamface ] || continue
  host=127.0.0.1
  port=5000
  for ((i = 1; i < ${#argv[@]}; i++)); do
    case "${argv[i]}" in
      serve) serving=1 ;;
      --port) port=${argv[i + 1]} ;;
      --port=*) port=${argv[i]#--port=} ;;
      --host) host=${argv[i + 1]} ;;
      --host=*) host=${argv[i]#--host=} ;;
    esac
  done
  [ "$serving" = 1 ] && break
done
[ "$serving" = 1 ] || exit 0
case "$host" in 0.0.0.0 | "" | "::" | "[::]") host=127.0.0.1 ;; esac
exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET /health HTTP/1.0\r\nHost: %s\r\n\r\n' "$host" >&3
read -r -t 4 status_line <&3 || exit 1
[[ $status_line == "HTTP/1."[01]" 200"* ]]
