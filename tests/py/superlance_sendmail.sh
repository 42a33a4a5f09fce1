#!/bin/sh
# Stand-in for `sendmail -t -i` in the superlance tests: superlance pipes a whole mail (headers,
# a blank line, the body) to this command's stdin. Each mail becomes its own file, mail.<pid>, in
# the directory given as $1; it is written under a temporary name and renamed, so a test that
# sees the file sees all of it.
set -eu
out="$1/mail.$$"
cat > "$out.part"
mv "$out.part" "$out"
