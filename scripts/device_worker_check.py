#!/usr/bin/env python3
"""sd-worker-cuda end to end on a GPU, for scripts/device-check.sh: start it on the tiny
model, check /info names the GPU, run one job over the event stream to its PNG, stop it
with SIGTERM. Prints what it saw; exits non-zero on the first thing that is wrong.

    device_worker_check.py SD_WORKER_CUDA MODEL_DIR
"""
import base64
import json
import signal
import subprocess
import sys
import time
import urllib.request

PORT = 18731
BASE = f"http://127.0.0.1:{PORT}"


def get(path):
    with urllib.request.urlopen(BASE + path, timeout=10) as r:
        return r.status, r.read()


def fail(msg, proc):
    print("FAIL:", msg)
    proc.terminate()
    out, _ = proc.communicate(timeout=10)
    print(out.decode(errors="replace")[-2000:])
    sys.exit(1)


def main():
    binary, model = sys.argv[1], sys.argv[2]
    proc = subprocess.Popen([binary, "--worker-id", "gpu-check", "--port", str(PORT), "--model-path", model,
                             "--device", "0", "--use-f16"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while True:
        try:
            if get("/ready")[0] == 200:
                break
        except Exception:
            pass
        if proc.poll() is not None or time.time() > deadline:
            fail("never ready", proc)
        time.sleep(0.2)
    info = json.loads(get("/info")[1])
    print("info:", json.dumps(info)[:600])
    if "cuda:0" not in json.dumps(info):
        fail("/info does not name cuda:0", proc)

    body = json.dumps({"operation": "image_generation", "prompt": "a photo of a cat", "steps": 4, "width": 64,
                       "height": 64, "seed": 42, "sampler": "euler_a"}).encode()
    req = urllib.request.Request(BASE + "/v1/jobs", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        job = json.loads(r.read())
    events, complete = [], None
    with urllib.request.urlopen(BASE + job["sse_url"], timeout=60) as r:
        for raw in r:
            line = raw.decode().strip()
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data.startswith("["):
                events.append(data)
                break
            ev = json.loads(data)
            events.append(ev["type"])
            if ev["type"] == "complete":
                complete = ev
    print("events:", events)
    if events[-1] != "[DONE]" or complete is None:
        fail("the job did not complete", proc)
    png = base64.b64decode(complete["image"])
    if png[:8] != b"\x89PNG\r\n\x1a\n" or (complete["width"], complete["height"]) != (64, 64):
        fail("the complete event holds no 64x64 PNG", proc)
    print("complete: seed", complete["seed"], "timings", complete.get("timings"))

    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        fail("no exit within 15 s of SIGTERM", proc)
    print("exit after SIGTERM:", rc)
    sys.exit(0 if rc == 0 else 1)


if __name__ == "__main__":
    main()
