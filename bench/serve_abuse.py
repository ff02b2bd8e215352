#!/usr/bin/env python3
"""Abuse `xml2prom serve` on loopback and measure what a normal scrape still gets.

Three scenarios, each on a fresh server started under `prlimit --nofile=1024`:
  slow:      hold 600 connections that sent half a request head, time a scrape while they are
             held and after they are closed;
  headers:   send 64 MB of request headers, report the answer and the growth of the server's
             peak and current RSS (VmHWM, VmRSS from /proc/PID/status);
  keepalive: 50 keep-alive clients x 40 scrapes (50 ms apart) while the input is
             replaced (atomic rename) every 0.25 s; count complete bodies and give p50/p99 latency.

Usage: bench/serve_abuse.py [--binary PATH]   (default target/release/xml2prom)
Only 127.0.0.1 is used; every loop is bounded.
"""

import argparse
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

RULES = """version: 1
metrics:
- { name: store_rows, help: Rows in the store, type: gauge, value: count(//row) }
"""


def store(rows):
    body = "".join(f'  <row id="{i}" kind="order">text</row>\n' for i in range(rows))
    return f"<store>\n{body}</store>\n"


def start(binary, folder, extra=()):
    command = ["prlimit", "--nofile=1024", binary, "serve", "--rules", "rules.yaml",
               "--input", "store.xml", "--listen", "127.0.0.1:0", *extra]
    child = subprocess.Popen(command, cwd=folder, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        line = child.stderr.readline()
        if not line and child.poll() is not None:
            break
        found = re.search(r'msg="listening" address=([\d.]+):(\d+)', line)
        if found:
            threading.Thread(target=lambda: [None for _ in child.stderr], daemon=True).start()
            host, port = found.group(1), int(found.group(2))
            wait_ready(host, port)
            return child, host, port
    child.kill()
    sys.exit("xml2prom serve did not start")


def wait_ready(host, port):
    for _ in range(300):
        try:
            if scrape(host, port, "/-/ready")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit("xml2prom serve never got ready")


def scrape(host, port, path="/metrics", connection=None):
    own = connection is None
    connection = connection or http.client.HTTPConnection(host, port, timeout=30)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    if own:
        connection.close()
    return response.status, body


def timed_scrape(host, port):
    start = time.perf_counter()
    status, body = scrape(host, port)
    took = time.perf_counter() - start
    assert status == 200 and b"store_rows" in body, (status, body[:200])
    return took * 1000


def memory(pid):
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    return {k: int(fields[k].split()[0]) for k in ("VmHWM", "VmRSS")}


def slow(binary, folder):
    child, host, port = start(binary, folder)
    try:
        held = []
        for _ in range(600):
            s = socket.create_connection((host, port), timeout=10)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            held.append(s)
        during = [timed_scrape(host, port) for _ in range(5)]
        for s in held:
            s.close()
        time.sleep(0.2)
        after = [timed_scrape(host, port) for _ in range(5)]
        print(f"slow: 600 slow connections held under nofile=1024: scrape "
              f"median {statistics.median(during):.1f} ms, max {max(during):.1f} ms; "
              f"after they went: median {statistics.median(after):.1f} ms, "
              f"max {max(after):.1f} ms")
    finally:
        child.kill()
        child.wait()


def headers(binary, folder):
    child, host, port = start(binary, folder)
    try:
        before = memory(child.pid)
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        line = b"X-Filler: " + b"a" * 1000 + b"\r\n"
        sent = 0
        try:
            while sent < 64 * 1024 * 1024:
                s.sendall(line)
                sent += len(line)
        except OSError:
            pass
        answer = b""
        try:
            answer = s.recv(200)
        except OSError:
            pass
        s.close()
        after = memory(child.pid)
        status = answer.split(b"\r\n", 1)[0].decode(errors="replace") or "(closed)"
        print(f"headers: sent {sent / 2**20:.1f} MiB of headers; answer {status!r}; "
              f"VmHWM {before['VmHWM']} -> {after['VmHWM']} kB "
              f"(+{(after['VmHWM'] - before['VmHWM']) / 1024:.1f} MiB), "
              f"VmRSS {before['VmRSS']} -> {after['VmRSS']} kB; next scrape "
              f"{timed_scrape(host, port):.1f} ms")
    finally:
        child.kill()
        child.wait()


def keepalive(binary, folder):
    child, host, port = start(binary, folder)
    stop = threading.Event()

    def replace():
        n = 0
        while not stop.is_set():
            n += 1
            tmp = os.path.join(folder, "store.xml.tmp")
            with open(tmp, "w") as f:
                f.write(store(1000 + n % 7))
            os.rename(tmp, os.path.join(folder, "store.xml"))
            stop.wait(0.25)

    latencies, complete, failures = [], [0], []
    lock = threading.Lock()

    def client():
        connection = http.client.HTTPConnection(host, port, timeout=30)
        for _ in range(40):
            start_time = time.perf_counter()
            try:
                status, body = scrape(host, port, connection=connection)
            except (OSError, http.client.HTTPException) as error:
                with lock:
                    failures.append(repr(error))
                connection = http.client.HTTPConnection(host, port, timeout=30)
                continue
            took = (time.perf_counter() - start_time) * 1000
            ok = status == 200 and re.search(rb"\nstore_rows 100\d\n", body) is not None
            with lock:
                latencies.append(took)
                complete[0] += ok
                if not ok:
                    failures.append(f"status {status}")
            # Spread the scrapes over several replacements of the input.
            time.sleep(0.05)
        connection.close()

    replacer = threading.Thread(target=replace)
    replacer.start()
    try:
        threads = [threading.Thread(target=client) for _ in range(50)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        replacer.join()
        child.kill()
        child.wait()
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    print(f"keepalive: 50 clients x 40 scrapes, input replaced every 0.25 s: "
          f"{complete[0]}/2000 complete bodies in {elapsed:.1f} s; p50 {p(0.50):.1f} ms, "
          f"p99 {p(0.99):.1f} ms, max {latencies[-1]:.1f} ms; failures {len(failures)} "
          f"{failures[:3]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--binary",
                        default=os.path.join(here, "..", "target", "release", "xml2prom"))
    parser.add_argument("scenarios", nargs="*", default=["slow", "headers", "keepalive"])
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        sys.exit(f"{binary} is not an executable; build it with cargo build --release")
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "rules.yaml"), "w") as f:
            f.write(RULES)
        with open(os.path.join(folder, "store.xml"), "w") as f:
            f.write(store(1000))
        for name in args.scenarios:
            {"slow": slow, "headers": headers, "keepalive": keepalive}[name](binary, folder)


if __name__ == "__main__":
    main()
