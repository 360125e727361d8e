"""An installer hook for the tests: records its event (one line) in argv[1]; for an install event it then
waits until argv[2] exists (at most 30 s) and exits with the status written in it."""

import json
import sys
import time
from pathlib import Path

text = sys.stdin.read().strip()
with open(sys.argv[1], "a", encoding="utf-8") as out:
    out.write(text + "\n")
release = Path(sys.argv[2])
deadline = time.monotonic() + 30
while json.loads(text)["event"] == "install" and not release.exists() and time.monotonic() < deadline:
    time.sleep(0.05)
sys.exit(int(release.read_text() or 0) if release.exists() else 3)
