# ctest container_systemd's image: siamface:latest (the package, with its systemd units, and the
# models) with Debian's systemd as PID 1, dbus (for systemd-run) and curl, to run the units as a
# machine would; without the image's user siamface, so that systemd allocates the units'
# dynamic user.
FROM siamface:latest
USER root
RUN apt-get -q update \
 && DEBIAN_FRONTEND=noninteractive apt-get -q -y install --no-install-recommends systemd dbus curl \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && sed -i '/^siamface:/d' /etc/passwd /etc/group
HEALTHCHECK NONE
STOPSIGNAL SIGRTMIN+3
WORKDIR /
ENTRYPOINT ["/lib/systemd/systemd"]
CMD []
