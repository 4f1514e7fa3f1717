#!/usr/bin/env python3
"""Measures the first slice on this machine: AppHost start to all healthy, POST of 1,000 readings to
all of them readable, and Ctrl+C to every process gone. Run from the repository root after
`dotnet build`:  python3 bench/first-slice.py [--fresh] [--runs N]"""
import argparse, datetime, json, os, signal, subprocess, sys, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE = os.path.join(ROOT, ".apphost")
ENDPOINTS = os.path.join(STATE, "endpoints.json")
SENSOR = "bench.burner.temp"


def http(method, url, key, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"X-Api-Key": key, "content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read() or b"null")


def wait_for(condition, deadline_s, what):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    sys.exit(f"bench: {what} did not happen within {deadline_s} s")


def descendants(pid):
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split()
    found = [int(c) for c in children]
    for child in list(found):
        found += descendants(child)
    return found


def run_once(fresh):
    apphost = os.path.join(ROOT, "AppHost", "bin", "Debug", "net10.0", "Kiln.AppHost")
    args = [apphost] + (["--fresh"] if fresh else [])
    launched_at = time.time()
    started = time.monotonic()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        return measure(process, started, launched_at)
    finally:
        if process.poll() is None:  # a failed measurement must not leave the platform running
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)


def measure(process, started, launched_at):
    # An endpoints.json left by an AppHost that was killed is older than this launch: wait for a new one.
    wait_for(lambda: os.path.exists(ENDPOINTS) and os.path.getmtime(ENDPOINTS) >= launched_at, 120, "all resources healthy")
    healthy = time.monotonic() - started

    endpoints = json.load(open(ENDPOINTS))
    secrets = json.load(open(os.path.join(STATE, "secrets.json")))
    api = endpoints["api"]["urls"][0]
    http("PUT", f"{api}/api/v1/sensors/{SENSOR}", secrets["adminApiKey"], {"site": "bench", "kind": "temperature", "unit": "C", "rule": None})
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    readings = [{"sensorId": SENSOR, "timestamp": (now - datetime.timedelta(seconds=1000 - i)).isoformat(), "value": i} for i in range(1000)]
    posted = time.monotonic()
    status, body = http("POST", f"{api}/api/v1/readings", secrets["ingestApiKey"], {"readings": readings})
    acknowledged = time.monotonic() - posted
    assert status == 202 and body["accepted"] == 1000, body
    newest = readings[-1]["timestamp"]

    def readable():
        _, page = http("GET", f"{api}/api/v1/sensors/{SENSOR}/readings?limit=1&from={urllib.request.quote(newest)}", secrets["readApiKey"])
        return len(page["items"]) == 1

    wait_for(readable, 10, "the newest reading readable")
    readable_after = time.monotonic() - posted
    _, page = http("GET", f"{api}/api/v1/sensors/{SENSOR}/readings?limit=1000&from={urllib.request.quote(readings[0]['timestamp'])}", secrets["readApiKey"])
    assert len(page["items"]) == 1000, len(page["items"])

    children = descendants(process.pid)
    stopping = time.monotonic()
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    stopped = time.monotonic() - stopping
    survivors = [pid for pid in children if os.path.exists(f"/proc/{pid}")]
    return healthy, acknowledged, readable_after, stopped, len(children), survivors


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fresh", action="store_true", help="wipe .apphost/ before the first run")
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    print("run  start→healthy  POST ack  POST→readable  Ctrl+C→stopped  processes  survivors")
    for run in range(options.runs):
        healthy, ack, readable, stopped, children, survivors = run_once(options.fresh and run == 0)
        print(f"{run + 1:>3}  {healthy:>11.2f} s  {ack * 1000:>6.0f} ms  {readable * 1000:>10.0f} ms  {stopped:>12.2f} s  {children:>9}  {len(survivors):>9}")
        if survivors:
            sys.exit(f"bench: processes survived the stop: {survivors}")


if __name__ == "__main__":
    main()
