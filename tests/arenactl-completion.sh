#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The bash completion of bhc-arenactl: commands, per-command options, pool
# actions, option arguments. TAP; skips when bash-completion is not installed.
set -u

srcdir=${abs_top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
framework=/usr/share/bash-completion/bash_completion
if [ ! -r "$framework" ]; then
	echo "1..0 # SKIP bash-completion is not installed ($framework)"
	exit 0
fi
# shellcheck disable=SC1090
source "$framework"
# shellcheck disable=SC1091
source "$srcdir/ctl/bhc-arenactl.bash-completion"

n=0
failed=0
# expect WANT WORD...: completing the last WORD gives exactly WANT
expect() {
	local want=$1
	shift
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_bhc_arenactl
	local got="${COMPREPLY[*]}"
	n=$((n + 1))
	if [ "$got" = "$want" ]; then
		echo "ok $n - '$*'"
	else
		echo "not ok $n - '$*': got '$got', want '$want'"
		failed=1
	fi
}

echo "1..9"
expect "status clients regions metrics watch pool reload help version" bhc-arenactl ""
expect "regions reload" bhc-arenactl --json re
expect "--socket --json --no-bars --width --bytes --timeout --help --version --pid --uid --tag --job --all" \
	bhc-arenactl regions --
expect "--timeout --tag" bhc-arenactl --socket /tmp/x clients --t
expect "show set" bhc-arenactl pool ""
expect "--timeout --total" bhc-arenactl pool set --warm 16M:4 --t
expect "--interval" bhc-arenactl watch --int
expect "root" bhc-arenactl clients --uid roo
expect "--timeout" bhc-arenactl status --t
exit $failed
