#!/usr/bin/env python3
"""idle_clients.py — the 1,000-client run of docs/RELIABILITY.md, "Denial of
service (round two)" (not a ctest: test_cli_idle_clients is the CI check,
with 200 of each).

A host serving the echo manifest with --metrics-listen is held by an
attacker that keeps CLIENTS idle control connections and CLIENTS idle TCP
connections open for DURATION seconds: a quarter of each sent half a request
(slow-loris), and every connection the host closes (its idle deadline, or to
make room past its limit) is opened again at once, so the count never drops.
Meanwhile `ringhost ps` and a GET /metrics are timed, one after the other,
every 0.25 s.  It prints the number of each measured, the median, p99 and
maximum seconds, how many failed or took 1 s or more, and how many
connections the host closed (idle or to make room); it exits 1 if any `ps`
or scrape failed or took 1 s or more.

    RH=build/ringhost PLUGINS=plugins python3 tests/stress/idle_clients.py \
        [--clients 1000] [--duration 60]
"""
import argparse, json, os, resource, selectors, socket, statistics, subprocess, sys
import tempfile, time

RH = os.path.abspath(os.environ.get("RH", "build/ringhost"))
PLUG = os.path.abspath(os.environ.get("PLUGINS", "plugins"))

ap = argparse.ArgumentParser()
ap.add_argument("--clients", type=int, default=1000, help="idle connections of each kind")
ap.add_argument("--duration", type=float, default=60.0, help="seconds of measuring")
a = ap.parse_args()

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
need = 2 * a.clients + 256
if soft < need:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(need, soft), hard), hard))

D = tempfile.mkdtemp(prefix="rh-idle-clients-")
INST = "idle-%d" % os.getpid()
os.environ["RINGHOST_RUNTIME_DIR"] = D + "/run"
SOCK = "%s/run/%s.sock" % (D, INST)
m = {"ringhost": 1, "name": INST, "plugins": [PLUG],
     "queues": {"e.in": {"type": "echo.message"}, "e.out": {"type": "echo.message"}},
     "kernels": [{"name": "e", "plugin": "echo", "inputs": {"in": "e.in"},
                  "outputs": {"out": "e.out"}}]}
json.dump(m, open(D + "/m.json", "w"))
err = open(D + "/host.err", "w+")
host = subprocess.Popen([RH, "run", D + "/m.json", "--metrics-listen", "0"],
                        stdout=subprocess.DEVNULL, stderr=err)
port = 0
for _ in range(600):
    err.seek(0)
    text = err.read()
    if "ringhost: serving;" in text:
        for line in text.splitlines():
            if line.startswith("ringhost: metrics at http://127.0.0.1:"):
                port = int(line.split(":")[-1].split("/")[0])
        break
    if host.poll() is not None:
        sys.exit("host exited: " + text)
    time.sleep(0.05)
if not port:
    sys.exit("host did not serve /metrics")

sel = selectors.DefaultSelector()
reopened = {"control": 0, "tcp": 0}


def open_one(kind, i):
    if kind == "control":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(SOCK)
        half = b'{"cmd": "p'
    else:
        s = socket.create_connection(("127.0.0.1", port))
        half = b"GET /metr"
    if i % 4 == 1:
        s.send(half)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, (kind, i))


def pump(timeout):
    """Reopen whatever the host closed, for up to timeout seconds."""
    for key, _ in sel.select(timeout):
        s = key.fileobj
        try:
            data = s.recv(4096)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            data = b""
        if data:
            continue  # an answer to a half request cannot come; ignore
        sel.unregister(s)
        s.close()
        kind, i = key.data
        reopened[kind] += 1
        open_one(kind, i)


for i in range(a.clients):
    open_one("control", i)
    open_one("tcp", i)


def timed_ps():
    t0 = time.monotonic()
    r = subprocess.run([RH, "ps", "--instance", INST], capture_output=True, timeout=60)
    return time.monotonic() - t0, r.returncode == 0


def timed_scrape():
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        s.close()
        ok = data.startswith(b"HTTP/1.1 200 OK") and b"ringhost_queue_enqueued_total" in data
    except OSError:
        ok = False
    return time.monotonic() - t0, ok


times = {"ps": [], "scrape": []}
failed = {"ps": 0, "scrape": 0}
end = time.monotonic() + a.duration
next_probe = time.monotonic()
while time.monotonic() < end:
    pump(max(0.0, next_probe - time.monotonic()))
    if time.monotonic() >= next_probe:
        for name, fn in (("ps", timed_ps), ("scrape", timed_scrape)):
            t, ok = fn()
            times[name].append(t)
            failed[name] += 0 if ok else 1
            pump(0)
        next_probe = time.monotonic() + 0.25

held = len(sel.get_map())
for key in list(sel.get_map().values()):
    key.fileobj.close()
host.terminate()
rc = host.wait(60)
err.seek(0)
log = [l for l in err.read().splitlines() if "control.connections" in l]

bad = 0
print("idle clients held: %d control + %d TCP (%d open at the end), for %.0f s"
      % (a.clients, a.clients, held, a.duration))
print("reopened after the host closed them: control %d, TCP %d"
      % (reopened["control"], reopened["tcp"]))
for name in ("ps", "scrape"):
    v = sorted(times[name])
    slow = sum(1 for t in v if t >= 1.0)
    bad += slow + failed[name]
    p99 = v[min(len(v) - 1, int(len(v) * 0.99))]
    print("%-6s n=%d median=%.3f s p99=%.3f s max=%.3f s failed=%d >=1s=%d"
          % (name, len(v), statistics.median(v), p99, v[-1], failed[name], slow))
print("host: exit %d; %s" % (rc, log[0] if log else "(no control.connections line)"))
sys.exit(1 if bad else 0)
