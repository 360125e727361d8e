"""How many API calls per second the LeaseWeb simulator answers here, through the real client (prints JSON).

.venv/bin/python bench/leaseweb_simulator.py [--requests 2000] [--threads 4]
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from leaseweb_api import LeasewebClient


def _calls(url: str, key: str, count: int) -> None:
    with LeasewebClient(key, url) as client:
        for n in range(count):
            if n % 2:
                client.power_info("83017341")
            else:
                client.get_server("83017341")


def _rate(url: str, key: str, total: int, threads: int) -> dict[str, float]:
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(_calls, url, key, total // threads) for _ in range(threads)]:
            future.result()
    seconds = time.perf_counter() - started
    return {
        "threads": threads,
        "requests": total,
        "seconds": round(seconds, 3),
        "per_second": round(total / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    key = secrets.token_hex(8)
    simulator = shutil.which("leaseweb-simulator") or "leaseweb-simulator"
    process = subprocess.Popen(
        [simulator, "--port", "0", "--api-key", key],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[1]
        results = [_rate(url, key, args.requests, 1), _rate(url, key, args.requests, args.threads)]
    finally:
        process.terminate()
        process.wait(10)
    print(
        json.dumps(
            {
                "benchmark": "leaseweb_simulator",
                "endpoints": ["GET /servers/{id}", "GET /powerInfo"],
                "runs": results,
            }
        )
    )


if __name__ == "__main__":
    main()
