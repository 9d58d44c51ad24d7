#!/bin/sh
# Installs the Debian 12 packages Postamt needs to build, run and test.
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -eu

PACKAGES="gcc pkg-config meson ninja-build openssl libevent-dev libssl-dev
libsqlite3-dev libcrypt-dev libcmocka-dev zlib1g-dev libunbound-dev python3
python3-pytest
swaks curl fetchmail getmail6 isync offlineimap3 neomutt"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
	echo "postamt: missing packages; run as root:" >&2
	echo "  apt-get update && $cmd" >&2
	exit 1
fi
echo "postamt: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
$cmd -qq
