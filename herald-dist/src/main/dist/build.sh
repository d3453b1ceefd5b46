#!/usr/bin/env bash
# Builds Herald's release files from the CLI's jar:
#   <out>/herald-<version>.tar.gz        herald-<version>/{bin/herald, lib/herald.jar, README.md,
#                                         LICENSE, systemd/herald.service, herald.env}
#   <out>/herald_<debversion>_all.deb    /usr/bin/herald, /usr/share/herald/{bin,lib},
#                                         /lib/systemd/system/herald.service, /etc/default/herald,
#                                         /usr/share/doc/herald/{README.md,copyright}
# Usage: build.sh <version> <herald.jar> <README.md> <LICENSE> <out-dir>
# Needs tar, gzip and dpkg-deb (Debian's dpkg). Run by "./mvnw -Prelease package" (herald-dist)
# and by herald-dist's tests, so what is tested is what is released.
set -euo pipefail

if [[ $# -ne 5 ]]; then
  echo "usage: $0 <version> <herald.jar> <README.md> <LICENSE> <out-dir>" >&2
  exit 2
fi
version="$1" jar="$2" readme="$3" license="$4" out="$5"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for file in "$jar" "$readme" "$license"; do
  [[ -f "$file" ]] || { echo "build.sh: $file is missing (build herald-cli first)" >&2; exit 1; }
done
command -v dpkg-deb >/dev/null || { echo "build.sh: dpkg-deb is missing (apt-get install dpkg)" >&2; exit 1; }

mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Reproducible: every file gets the jar's time.
stamp="$(stat -c %Y "$jar")"

# --- herald-<version>.tar.gz ---
name="herald-$version"
tree="$work/tar/$name"
install -d "$tree/bin" "$tree/lib" "$tree/systemd"
install -m 0755 "$here/herald" "$tree/bin/herald"
install -m 0644 "$jar" "$tree/lib/herald.jar"
install -m 0644 "$readme" "$tree/README.md"
install -m 0644 "$license" "$tree/LICENSE"
sed 's|@HERALD_BIN@|/opt/herald/bin/herald|' "$here/herald.service" >"$tree/systemd/herald.service"
install -m 0644 "$here/herald.env" "$tree/systemd/herald.env"
find "$work/tar" -exec touch -h -d "@$stamp" {} +
tar -C "$work/tar" --sort=name --owner=0 --group=0 --numeric-owner -czf "$out/$name.tar.gz" "$name"

# --- herald_<debversion>_all.deb ---
# Debian orders "~" before anything: 0.1.0~SNAPSHOT comes before the 0.1.0 release.
debversion="${version//-/\~}"
root="$work/deb"
install -d "$root/DEBIAN" "$root/usr/bin" "$root/usr/share/herald/bin" "$root/usr/share/herald/lib" \
  "$root/lib/systemd/system" "$root/etc/default" "$root/usr/share/doc/herald"
install -m 0755 "$here/herald" "$root/usr/share/herald/bin/herald"
ln -s ../share/herald/bin/herald "$root/usr/bin/herald"
install -m 0644 "$jar" "$root/usr/share/herald/lib/herald.jar"
sed 's|@HERALD_BIN@|/usr/bin/herald|' "$here/herald.service" >"$root/lib/systemd/system/herald.service"
chmod 0644 "$root/lib/systemd/system/herald.service"
# It may hold the JWT secret: root only (systemd reads it before starting the service).
install -m 0600 "$here/herald.env" "$root/etc/default/herald"
install -m 0644 "$readme" "$root/usr/share/doc/herald/README.md"
install -m 0644 "$license" "$root/usr/share/doc/herald/copyright"
echo /etc/default/herald >"$root/DEBIAN/conffiles"
size="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
cat >"$root/DEBIAN/control" <<CONTROL
Package: herald
Version: $debversion
Section: net
Priority: optional
Architecture: all
Depends: java-runtime-headless (>= 17) | java17-runtime-headless
Installed-Size: $size
Maintainer: Herald maintainers <maintainers@herald.invalid>
Description: server-sent events hub with exact replay
 Herald's hub serves server-sent events over HTTP: durable in one SQLite
 file, or a cluster on Redis; a client that reconnects with Last-Event-ID
 gets every event it missed, exactly once and in order. A web console is
 at / and the herald command publishes, listens and mints tokens.
 .
 The service is installed but not started: systemctl enable --now herald.
CONTROL
for script in postinst postrm; do
  cat >"$root/DEBIAN/$script" <<'SCRIPT'
#!/bin/sh
set -e
# Let systemd see the unit appear or go; the service is never started or stopped here.
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
SCRIPT
  chmod 0755 "$root/DEBIAN/$script"
done
find "$root" -exec touch -h -d "@$stamp" {} +
dpkg-deb --root-owner-group -Zgzip --build "$root" "$out/herald_${debversion}_all.deb" >/dev/null

echo "$out/$name.tar.gz"
echo "$out/herald_${debversion}_all.deb"
