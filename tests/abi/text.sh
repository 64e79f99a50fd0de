# text.sh WORKDIR: text utilities over files made here: cat, sort, uniq,
# wc, grep, sed, awk, cut, tr, head, tail, tac, nl. Prints lines that
# must be the same on a Tessera vNode and on the host (tests/cluster/
# abi_test.py compares them); works in WORKDIR/text, removed at the end.
w=${1:-/tmp}/text
rm -rf "$w"; mkdir -p "$w" && cd "$w" || { echo "cannot enter $w"; exit 1; }

cat > fruit <<'END'
banana 3 yellow
apple 5 red
cherry 12 red
apple 5 red
date 7 brown
banana 1 yellow
END
echo "== sort uniq"
sort fruit
sort -k2,2n fruit | head -n 3
sort -u fruit | wc -l
cut -d' ' -f1 fruit | sort | uniq -c
sort -r -t' ' -k1,1 fruit | uniq | head -n 2
echo "== wc"
wc -l < fruit; wc -w < fruit; wc -c < fruit
echo "== grep"
grep -n red fruit
grep -c -v red fruit
grep -E '^(apple|date) ' fruit | sort -u
grep -q nosuch fruit; echo "grep -q nosuch: $?"
grep -i BANANA fruit | head -n 1
echo "== sed"
sed 's/red/RED/g' fruit | head -n 3
sed -n '2,3p' fruit
sed '/yellow/d' fruit
sed -e 's/\([a-z]*\) \([0-9]*\).*/\2:\1/' fruit | sort -n
sed -i 's/brown/BROWN/' fruit; grep -c BROWN fruit
echo "== awk"
awk '{ s += $2 } END { print "sum", s, "rows", NR }' fruit
awk '$3 == "red" { print $1 }' fruit | sort | uniq
awk -F' ' '{ n[$1] += $2 } END { for (k in n) print k, n[k] }' fruit | sort
awk 'BEGIN { printf "%05.1f|%-4s|%x\n", 3.14159, "ab", 255 }'
echo "== cut tr head tail"
cut -c1-3 fruit | head -n 2
echo "Hello World" | tr 'a-z' 'A-Z'
echo "a,b,,c" | tr -s ',' | tr ',' '\n' | wc -l
tail -n 2 fruit
head -c 10 fruit; echo
tac fruit | head -n 1
nl fruit | tail -n 1
seq 5 | paste -s -d+ | bc 2>/dev/null || echo "15 (no bc)"
cd /; rm -rf "$w"
echo "done text"
