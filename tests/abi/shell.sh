# shell.sh WORKDIR: the busybox shell itself. Pipelines, redirections,
# here-documents, subshells, command substitution, loops, functions,
# arithmetic, exit statuses, background jobs and wait. Prints lines that
# must be the same on a Tessera vNode and on the host (tests/cluster/
# abi_test.py compares them); works in WORKDIR/shell, removed at the end.
w=${1:-/tmp}/shell
rm -rf "$w"; mkdir -p "$w" && cd "$w" || { echo "cannot enter $w"; exit 1; }

echo "== pipes"
echo hello | cat
printf 'c\nb\na\n' | sort | head -n 2
seq 1 100 | grep 7 | wc -l
yes abc | head -n 3
echo "pipeline status: $(false | true; echo $?)"
echo "== redirections"
echo one > f; echo two >> f; cat < f
cat nosuch 2> err; echo "cat nosuch: $?"
grep -c nosuch err
{ echo out; echo err >&2; } > both 2>&1; sort both
exec 3> fd3; echo via fd3 >&3; exec 3>&-; cat fd3
cat <<END
here-doc line 1
here-doc $((2 + 3))
END
echo "== subshells and substitution"
x=outer; (x=inner; echo "in subshell: $x"); echo "after subshell: $x"
(cd /; pwd); echo "cwd kept: $(basename "$(pwd)")"
n=$(echo a b c | wc -w); echo "words: $n"
echo "nested: $(echo $(echo deep))"
echo "== control flow"
for i in 1 2 3; do printf '%s ' "$i"; done; echo
i=0; while [ $i -lt 5 ]; do i=$((i + 1)); done; echo "while: $i"
until [ $i -eq 0 ]; do i=$((i - 1)); done; echo "until: $i"
for w in apple banana cherry; do
	case $w in a*) echo "$w: starts with a" ;; *an*) echo "$w: has an" ;; *) echo "$w: other" ;; esac
done
f() { echo "f got $# args: $*"; return 3; }
f x "y z"; echo "f returned $?"
echo "arith: $((7 * 6)) $((17 % 5)) $((1 << 10))"
if [ -f f ] && ! [ -d f ]; then echo "test: f is a file"; fi
true && echo "and: yes"; false || echo "or: yes"
echo "== jobs"
(sleep 1; exit 7) & pid=$!
wait $pid; echo "background job exit: $?"
echo a > j1 & echo b > j2 & wait; cat j1 j2
sh -c 'exit 9'; echo "sh -c exit: $?"
sh -c 'echo "child pid differs: $([ $$ != $PPID ] && echo yes)"'
cd /; rm -rf "$w"
echo "done shell"
