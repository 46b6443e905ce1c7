#!/usr/bin/env bash
# Mutation testing: apply each deliberate bug of scripts/mutants.txt to a
# copy of the tree, build, run the tests that are to catch it, and check that
# they fail. Prints one line per mutant and the kill rate; exits 1 unless
# every mutant was killed (and the unmutated copy passed the same tests).
#
#   scripts/mutation.sh [--ci] [--keep] [--list FILE] [NAME...]
#
#   --ci      only the mutants of tier "ci" (the fast subset CI runs)
#   --keep    keep the scratch copy (its path is printed)
#   NAME...   only these mutants
#
# Test runs hold /tmp/bhc-test.lock (tests change the global hugepage pool);
# builds do not. $BHC_MUTATION_DIR is where the scratch copy goes (default:
# a new directory under ${TMPDIR:-/tmp}).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

# Internal: run_tests() calls the script again, under the lock, to run a list.
if [ -n "${BHC_MUTATION_RUN:-}" ]; then
	bld=$BHC_MUTATION_BUILD
	eval "$(sed -n '/^run_tests_unlocked()/,/^}/p' "$0")"
	run_tests_unlocked "$1" "$2"
	exit $?
fi
list="$top/scripts/mutants.txt"
tier=all
keep=no
only=()
while [ $# -gt 0 ]; do
	case "$1" in
	--ci) tier=ci; shift ;;
	--keep) keep=yes; shift ;;
	--list) list=$(realpath "$2"); shift 2 ;;
	-h|--help) sed -n '2,16p' "$0"; exit 0 ;;
	-*) echo "mutation.sh: unknown option $1" >&2; exit 2 ;;
	*) only+=("$1"); shift ;;
	esac
done

lock=/tmp/bhc-test.lock
jobs=$(nproc)
work=${BHC_MUTATION_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/bhc-mutation.XXXXXX")}
src="$work/src"
bld="$work/build"
log="$work/log"
cleanup() {
	if [ "$keep" = yes ]; then
		echo "mutation.sh: scratch copy kept in $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

# --- the mutants --------------------------------------------------------------
names=() tiers=() files=() tests=() scripts=()
while IFS= read -r line; do
	case "$line" in ''|'#'*) continue ;; esac
	read -r name t file tl rest <<<"$line"
	[ -n "$rest" ] || { echo "mutation.sh: bad line in $list: $line" >&2; exit 2; }
	if [ ${#only[@]} -gt 0 ]; then
		want=no
		for o in "${only[@]}"; do [ "$o" = "$name" ] && want=yes; done
		[ $want = yes ] || continue
	elif [ "$tier" = ci ] && [ "$t" != ci ]; then
		continue
	fi
	names+=("$name") tiers+=("$t") files+=("$file") tests+=("$tl") scripts+=("$rest")
done <"$list"
[ ${#names[@]} -gt 0 ] || { echo "mutation.sh: no mutants selected" >&2; exit 2; }

# --- a copy of the tree (the working tree as it is, committed or not) -----------
mkdir -p "$src" "$bld" "$log"
(cd "$top" && git ls-files -z --cached --others --exclude-standard |
	tar --null -T - -cf - 2>/dev/null) | tar -xf - -C "$src"
echo "mutation.sh: ${#names[@]} mutants; configuring a copy in $work"
(cd "$src" && ./autogen.sh >"$log/autogen" 2>&1)
(cd "$bld" && "$src/configure" >"$log/configure" 2>&1) ||
	{ echo "mutation.sh: configure failed ($log/configure)" >&2; keep=yes; exit 2; }

export abs_top_builddir="$bld" abs_top_srcdir="$src"
export BHC_ARENAD="$bld/daemon/bhc-arenad" BHC_ARENACTL="$bld/ctl/bhc-arenactl"
export CK_DEFAULT_TIMEOUT=120

# The programs a test list needs: the daemon, arenactl, and the tests.
targets_of() {
	local t prog out="daemon/bhc-arenad ctl/bhc-arenactl"
	IFS=, read -ra t <<<"$1"
	for prog in "${t[@]}"; do out="$out tests/${prog%%:*}"; done
	echo "$out"
}

build() { # build LOGFILE TARGETS...
	local out=$1
	shift
	make -C "$bld" -j"$jobs" "$@" >"$out" 2>&1
}

# Run a test list (in $bld): 0 if every test passed, 1 if one failed, 2 if a
# program reported no test at all (a wrong case name: proves nothing).
run_tests_unlocked() { # run_tests_unlocked TESTLIST LOGFILE
	local t spec prog case rc=0 norun=0
	IFS=, read -ra t <<<"$1"
	: >"$2"
	for spec in "${t[@]}"; do
		prog=${spec%%:*}
		case=
		[ "$prog" != "$spec" ] && case=${spec#*:}
		if ! (cd "$bld" && env ${case:+CK_RUN_CASE="$case"} \
			timeout 300 "./tests/$prog" >"$2.one" 2>&1); then
			rc=1
		fi
		if ! grep -q "^ok \|^not ok " "$2.one"; then
			echo "mutation.sh: $spec ran no test" >>"$2.one"
			norun=1
		fi
		{ echo "--- $spec"; cat "$2.one"; } >>"$2"
		rm -f "$2.one"
	done
	[ $norun -eq 0 ] || return 2
	return $rc
}

# The same under the test lock, taken once for the whole list (flock -o: the
# tests do not inherit the lock's descriptor).
run_tests() { # run_tests TESTLIST LOGFILE
	flock -o "$lock" env BHC_MUTATION_RUN=1 BHC_MUTATION_BUILD="$bld" "$0" "$1" "$2"
}

# --- the unmutated copy must pass every test the mutants use --------------------
all_tests=$(printf '%s\n' "${tests[@]}" | tr ',' '\n' | sort -u | paste -sd,)
echo "mutation.sh: baseline build and tests ($all_tests)"
# shellcheck disable=SC2046
build "$log/baseline.build" $(targets_of "$all_tests") ||
	{ echo "mutation.sh: the unmutated copy does not build ($log/baseline.build)" >&2; keep=yes; exit 1; }
if ! run_tests "$all_tests" "$log/baseline.tests"; then
	echo "mutation.sh: the unmutated copy fails its tests:" >&2
	grep -E "^not ok|ran no test" "$log/baseline.tests" >&2 || true
	keep=yes
	exit 1
fi

# --- each mutant ---------------------------------------------------------------
killed=0 survived=0 broken=0 t0=$(date +%s)
for i in "${!names[@]}"; do
	name=${names[$i]} file=${files[$i]} tl=${tests[$i]}
	cp -p "$src/$file" "$work/orig"
	sed -e "${scripts[$i]}" "$work/orig" >"$src/$file"
	if cmp -s "$work/orig" "$src/$file"; then
		printf '%-26s BROKEN   (the sed script changes nothing in %s)\n' "$name" "$file"
		broken=$((broken + 1))
		continue
	fi
	s0=$(date +%s)
	rc=0
	# shellcheck disable=SC2046
	if ! build "$log/$name.build" $(targets_of "$tl"); then
		rc=3
	else
		run_tests "$tl" "$log/$name.tests" || rc=$?
	fi
	case $rc in
	0)
		printf '%-26s SURVIVED (%s passed; %s)\n' "$name" "$tl" "$log/$name.tests"
		survived=$((survived + 1))
		keep=yes
		;;
	1)
		first=$(grep -m1 "^not ok" "$log/$name.tests" | cut -c1-90 || true)
		printf '%-26s killed   %3ds  %s\n' "$name" $(($(date +%s) - s0)) \
			"${first:-(a test exited non-zero)}"
		killed=$((killed + 1))
		;;
	2)
		printf '%-26s BROKEN   (a test ran nothing: %s)\n' "$name" "$log/$name.tests"
		broken=$((broken + 1))
		keep=yes
		;;
	*)
		printf '%-26s BROKEN   (does not build: %s)\n' "$name" "$log/$name.build"
		broken=$((broken + 1))
		keep=yes
		;;
	esac
	cp -p "$work/orig" "$src/$file"
	touch "$src/$file"
done

total=${#names[@]}
echo "mutation.sh: killed $killed of $total ($((100 * killed / total))%), survived $survived," \
	"broken $broken, in $(($(date +%s) - t0)) s"
[ "$killed" -eq "$total" ]
