"""A power hook for the tests: appends its standard input, as one line, to the file named by its argument."""

import sys

with open(sys.argv[1], "a", encoding="utf-8") as out:
    out.write(sys.stdin.read().strip() + "\n")
