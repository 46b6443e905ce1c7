# shellcheck shell=bash
# Sourced by scripts that install the Debian packages they need.

# install_missing WHO PKG...: apt-get install the PKGs not installed yet (as
# root), or say which are missing and fail. WHO names the caller in messages.
install_missing() {
	local who=$1 p
	local missing=()

	shift
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "$who: missing packages: ${missing[*]}" >&2
		echo "$who: run as root, or: sudo apt-get install ${missing[*]}" >&2
		exit 1
	fi
	echo "$who: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
