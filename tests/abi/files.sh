# files.sh WORKDIR: file utilities over a tree made here: mkdir -p,
# touch, cp -r, mv, rm -r, ln -s, readlink, find, ls, stat, chmod, du
# (names only: block counts depend on the file system), df (its header
# only). Prints lines that must be the same on a Tessera vNode and on the
# host (tests/cluster/abi_test.py compares them); works in WORKDIR/files,
# removed at the end.
w=${1:-/tmp}/files
rm -rf "$w"; mkdir -p "$w" && cd "$w" || { echo "cannot enter $w"; exit 1; }
umask 022

echo "== make a tree"
mkdir -p a/b/c a/d
echo hello > a/b/c/f1
echo world > a/d/f2
printf '%s\n' 1 2 3 > a/f3
touch a/empty
ln -s b/c/f1 a/link
find a | sort
find a -type f | sort
find a -name 'f*' -type f | sort
find a -type d | sort | wc -l
find a -newer a/empty -o -name empty | sort | head -n 1 >/dev/null; echo "find -newer: $?"
echo "== ls"
ls a
ls -a a | head -n 3
ls -1 a/b/c
ls -l a | awk 'NR > 1 { print $1, (/^d/ ? "dir" : $5), $NF }' # a directory's size depends on the file system
ls -ld a/d | cut -c1-10
ls nosuch 2>/dev/null; echo "ls nosuch: $?"
echo "== stat chmod readlink"
stat -c '%n %s %F' a/f3 a/link; stat -c '%n %F' a/d
chmod 600 a/f3; stat -c '%a' a/f3
chmod u+x,g+r a/f3; stat -c '%a' a/f3
readlink a/link
cat a/link
echo "== cp mv rm"
cp -r a b
find b | sort | wc -l
cmp a/b/c/f1 b/b/c/f1 && echo "cp -r: same content"
cp a/f3 copy; cat copy | wc -l
mv copy moved; ls copy 2>/dev/null; echo "mv: old name gone: $?"; cat moved | head -n 1
mv b c; ls -d b 2>/dev/null; ls -d c
mkdir -p c/x/y/z; rmdir c/x/y/z; ls c/x
rm -r c; ls -d c 2>/dev/null; echo "rm -r: $?"
rm moved a/empty; ls a
rmdir a 2>/dev/null; echo "rmdir non-empty: $?"
echo "== du df"
du -a a | awk '{ print $2 }' | sort
du -s a | awk '{ print ($1 > 0) ? "du -s: positive" : "du -s: zero" }'
df / >/dev/null; echo "df /: $?"
df / | head -n 1 | awk '{ print $1 }'
cd /; rm -rf "$w"
echo "done files"
