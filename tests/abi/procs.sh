# procs.sh WORKDIR: processes and signals as the shell sees them: sleep,
# background jobs, kill and the statuses wait reports, trap, ps (if /proc
# allows), date (its format, never its value), the environment, pipes
# between several processes. Prints lines that must be the same on a
# Tessera vNode and on the host (tests/cluster/abi_test.py compares them);
# works in WORKDIR/procs, removed at the end.
w=${1:-/tmp}/procs
rm -rf "$w"; mkdir -p "$w" && cd "$w" || { echo "cannot enter $w"; exit 1; }

echo "== sleep and jobs"
sleep 0; echo "sleep 0: $?"
sleep 0.2; echo "sleep 0.2: $?"
sleep 30 & pid=$!
kill $pid; wait $pid; echo "killed sleep: wait status $?"
sleep 30 & pid=$!
kill -9 $pid; wait $pid; echo "kill -9: wait status $?"
kill -0 $$ && echo "kill -0 self: ok"
kill $pid 2>/dev/null; echo "kill a reaped pid: $?"
(exit 3) & wait $!; echo "subshell job: $?"
echo "== trap"
trap 'echo "got USR1"' USR1
kill -USR1 $$
sh -c 'trap "echo child got TERM; exit 5" TERM; kill -TERM $$; sleep 5'; echo "child status: $?"
trap - USR1
echo "== pipelines of processes"
seq 1 2000 | sed 's/0/zero/g' | grep zero | awk 'END { print NR }'
seq 1 50 | while read n; do [ $((n % 10)) -eq 0 ] && echo "$n"; done | tr '\n' ' '; echo
echo "== environment"
FOO=bar sh -c 'echo "FOO=$FOO"'
export BAZ=qux; sh -c 'echo "exported: $BAZ"'
env -i A=1 "$(which sh)" -c 'env' | sort | grep -v '^PWD=\|^SHLVL=\|^_='
echo "== date ps"
date +%Y-%m-%d | grep -c '^[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]$'
date -u +%H:%M:%S | grep -c '^[0-2][0-9]:[0-5][0-9]:[0-6][0-9]$'
if [ -d /proc/self ]; then
	ps -o pid,comm > ps.out 2>&1; echo "ps: $?"
	head -n 1 ps.out | awk '{ print $1, $2 }'
	awk -v me=$$ '$1 == me { print "ps lists this shell" }' ps.out
else
	echo "no /proc"
fi
cd /; rm -rf "$w"
echo "done procs"
