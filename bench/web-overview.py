#!/usr/bin/env python3
"""Measures the Web's overview with a fleet: starts the built AppHost on a state folder of its own, creates
N sensors (20 sites) with one reading each, signs in as the operator and times GET / (server render: the
sensor list from the Api, latest values from Redis, open alerts from the Api). Run from the repository root
after `dotnet build App.sln`:  python3 bench/web-overview.py [--sensors 2000] [--renders 20]"""
import argparse, concurrent.futures, datetime, http.cookiejar, json, os, re, signal, statistics, subprocess, sys, tempfile, time
import urllib.error, urllib.parse, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def api_call(method, url, key, body=None):
    data = json.dumps(body).encode() if body is not None else None
    while True:
        request = urllib.request.Request(url, data=data, method=method, headers={"X-Api-Key": key, "content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as e:
            if e.code != 429:
                raise
            time.sleep(float(e.headers.get("Retry-After", "1")))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sensors", type=int, default=2000)
    parser.add_argument("--renders", type=int, default=20)
    args = parser.parse_args()

    state = tempfile.mkdtemp(prefix="kiln-web-bench-", dir="/var/tmp")
    os.chmod(state, 0o755)
    apphost = os.path.join(ROOT, "AppHost", "bin", "Debug", "net10.0", "Kiln.AppHost")
    process = subprocess.Popen([apphost, "--state-dir", state, "--no-simulator"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        endpoints_file = os.path.join(state, "endpoints.json")
        end = time.monotonic() + 120
        while not os.path.exists(endpoints_file):
            if process.poll() is not None or time.monotonic() > end:
                sys.exit("bench: the AppHost did not come up")
            time.sleep(0.1)
        endpoints = json.load(open(endpoints_file))
        secrets = json.load(open(os.path.join(state, "secrets.json")))
        api, web = endpoints["api"]["urls"][0], endpoints["web"]["urls"][0]

        ids = [f"site{i % 20:02d}.asset{i // 20:03d}.temp" for i in range(args.sensors)]
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda s: api_call("PUT", f"{api}/api/v1/sensors/{s}", secrets["adminApiKey"],
                {"site": s.split(".")[0], "kind": "temperature", "unit": "C", "rule": {"low": None, "high": 1450, "hysteresis": 5}}), ids))
        now = datetime.datetime.now(datetime.timezone.utc).isoformat()
        for chunk in range(0, len(ids), 500):
            api_call("POST", f"{api}/api/v1/readings", secrets["ingestApiKey"],
                     {"readings": [{"sensorId": s, "timestamp": now, "value": 1000 + i} for i, s in enumerate(ids[chunk:chunk + 500])]})
        print(f"{args.sensors} sensors created and one reading each posted in {time.monotonic() - started:.1f} s")

        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login = browser.open(f"{web}/login").read().decode()
        token = re.search(r'name="__RequestVerificationToken"[^>]*value="([^"]+)"', login).group(1)
        form = urllib.parse.urlencode({"password": secrets["operatorPassword"], "returnUrl": "/", "__RequestVerificationToken": token}).encode()
        browser.open(f"{web}/account/login", form).read()

        def rows():
            html = browser.open(f"{web}/").read().decode()
            return html, html.count("data-sensor="), html.count('class="num latest">—<')
        end = time.monotonic() + 60
        while (r := rows())[1] < args.sensors or r[2] > 0:
            if time.monotonic() > end:
                sys.exit(f"bench: the overview shows {r[1]} sensors, {r[2]} without a value")
            time.sleep(0.2)

        times = []
        for _ in range(args.renders):
            t = time.monotonic()
            html, count, _ = rows()
            times.append((time.monotonic() - t) * 1000)
        times.sort()
        print(f"GET / with {count} sensors: {len(html) / 1024:.0f} KiB; p50 {statistics.median(times):.0f} ms, "
              f"max {times[-1]:.0f} ms over {args.renders} renders")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        subprocess.run(["rm", "-rf", state])


if __name__ == "__main__":
    main()
