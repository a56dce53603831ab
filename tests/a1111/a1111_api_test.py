"""AUTOMATIC1111's sdapi/v1 on the real sd-worker-cpu, driven with Python `requests` as
A1111's users script it: every route, its fields, wrong types and limits (422 in FastAPI's
shape), Basic and bearer auth, batches, img2img and inpainting. Images are compared with
what the worker's own /v1/jobs gives for the same seed and settings.

Environment (set by tests.cmake): SD_WORKER_BIN, SD_SOURCE_DIR; SD_FIXTURES and
SD_TEST_DATA as for the C++ tests. Without the CLIP vocabulary the tests skip on a
developer's machine and fail under CI=true.
"""
import base64
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import zlib

import requests

SOURCE_DIR = os.environ.get("SD_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.environ.get("SD_FIXTURES", os.path.join(SOURCE_DIR, "..", "shared", "fixtures"))
DATA = os.environ.get("SD_TEST_DATA", os.path.join(SOURCE_DIR, "..", "shared", "data"))
WORKER_BIN = os.environ.get("SD_WORKER_BIN", os.path.join(SOURCE_DIR, "build", "bin", "sd-worker-cpu"))
TOKEN = "a1111-test-token"
AUTH = ("anyone", TOKEN)


def require_data():
    if os.path.isdir(os.path.join(DATA, "clip")):
        return
    message = f"third-party data {DATA}/clip not found"
    if os.environ.get("CI") == "true":
        raise RuntimeError(message + ", and CI=true forbids skipping (set SD_TEST_DATA)")
    raise unittest.SkipTest(message)


# --- PNG helpers (the images the tests send and read) ---

def png_chunks(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        chunks.append((kind, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return chunks


def png_size(data):
    ihdr = dict(png_chunks(data))[b"IHDR"]
    return struct.unpack(">II", ihdr[:8])


def png_text(data):
    out = {}
    for kind, body in png_chunks(data):
        if kind == b"tEXt":
            key, value = body.split(b"\0", 1)
            out[key.decode()] = value.decode("latin-1")
        elif kind == b"iTXt":
            key, rest = body.split(b"\0", 1)
            compressed = rest[0]
            rest = rest[2:]
            _lang, rest = rest.split(b"\0", 1)
            _translated, text = rest.split(b"\0", 1)
            out[key.decode()] = (zlib.decompress(text) if compressed else text).decode()
    return out


def png_pixels(data):
    """The 8-bit pixels of a non-interlaced RGB or grey PNG: rows of bytes, filters undone."""
    chunks = png_chunks(data)
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", dict(chunks)[b"IHDR"])
    assert depth == 8 and colour in (0, 2) and interlace == 0, "an 8-bit RGB or grey PNG"
    bpp = 3 if colour == 2 else 1
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride, rows, prev = width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return rows


def pixel(rows, x, y):
    return tuple(rows[y][3 * x:3 * x + 3])


def make_png(width, height, pixel, channels=3):
    """An 8-bit RGB (or grey) PNG whose pixel (x, y) is pixel(x, y)."""
    rows = b""
    for y in range(height):
        rows += b"\0" + b"".join(bytes(pixel(x, y)) for x in range(width))
    colour_type = 2 if channels == 3 else 0

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def b64(data):
    return base64.b64encode(data).decode()


INIT_IMAGE = b64(make_png(64, 64, lambda x, y: (x * 4, y * 4, 128)))
# White (repaint) on the left half.
MASK = b64(make_png(64, 64, lambda x, y: (255 if x < 32 else 0,), channels=1))
MASK_INVERTED = b64(make_png(64, 64, lambda x, y: (0 if x < 32 else 255,), channels=1))


# --- the worker process ---

class Worker:
    def __init__(self, model="tiny-sd15", extra=()):
        require_data()
        # A loopback port bound (SO_REUSEPORT) and held until the worker has taken it over.
        self.port_holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.port_holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self.port_holder.bind(("127.0.0.1", 0))
        self.port = self.port_holder.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.tmp = tempfile.mkdtemp(prefix="sdtest-a1111-")
        self.lora_dir = os.path.join(self.tmp, "loras")
        os.makedirs(self.lora_dir)
        shutil.copy(os.path.join(FIXTURES, "tiny-lora-sd15.safetensors"), os.path.join(self.lora_dir, "tiny-lora.safetensors"))
        self.log_path = os.path.join(self.tmp, "worker.log")
        argv = [WORKER_BIN, "--worker-id", "w-a1111", "--port", str(self.port),
                "--model-path", os.path.join(FIXTURES, model), "--tokenizer-dir", os.path.join(DATA, "clip"),
                "--dtype", "f32", "--threads", "1", "--api-token", TOKEN, "--lora-dir", self.lora_dir,
                "--preview-every", "1", *extra]
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the worker exited:\n" + self.log())
            try:
                if requests.get(self.base + "/ready", auth=AUTH, timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the worker did not get ready:\n" + self.log())

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        self.process.terminate()
        self.process.wait(30)
        self.port_holder.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def url(self, path):
        return self.base + path

    def post(self, path, body, **kw):
        kw.setdefault("auth", AUTH)
        return requests.post(self.url(path), json=body, timeout=kw.pop("timeout", 120), **kw)

    def get(self, path, **kw):
        kw.setdefault("auth", AUTH)
        return requests.get(self.url(path), timeout=kw.pop("timeout", 30), **kw)

    def native_image(self, body):
        """The base64 PNG that /v1/jobs gives for a native job body."""
        r = requests.post(self.url("/v1/jobs"), json=body, headers={"Authorization": "Bearer " + TOKEN}, timeout=30)
        assert r.status_code == 200, r.text
        job = r.json()["job_id"]
        deadline = time.time() + 120
        while time.time() < deadline:
            status = requests.get(self.url("/v1/jobs/" + job), auth=AUTH, timeout=30).json()
            if status["status"] == "completed":
                return status["image"]
            assert status["status"] in ("queued", "running"), status
            time.sleep(0.05)
        raise AssertionError("native job did not finish")


FOX = {"prompt": "a red fox in the snow", "steps": 3, "width": 64, "height": 64, "seed": 42, "cfg_scale": 7.5}


def with_(base, **changes):
    out = dict(base)
    out.update(changes)
    return out


class A1111Case(unittest.TestCase):
    model = "tiny-sd15"

    @classmethod
    def setUpClass(cls):
        cls.worker = Worker(cls.model)

    @classmethod
    def tearDownClass(cls):
        cls.worker.stop()

    def generate(self, body, path="/sdapi/v1/txt2img"):
        r = self.worker.post(path, body)
        self.assertEqual(r.status_code, 200, r.text)
        answer = r.json()
        self.assertEqual(set(answer), {"images", "parameters", "info"})
        self.assertIsInstance(answer["info"], str)
        answer["info"] = json.loads(answer["info"])
        return answer

    def image(self, body, path="/sdapi/v1/txt2img"):
        answer = self.generate(body, path)
        self.assertEqual(len(answer["images"]), 1)
        return answer["images"][0]

    def expect_422(self, body, loc, type_prefix, path="/sdapi/v1/txt2img"):
        r = self.worker.post(path, body)
        self.assertEqual(r.status_code, 422, r.text)
        detail = r.json()["detail"]
        self.assertEqual(len(detail), 1, r.text)
        self.assertEqual(detail[0]["loc"], ["body", *loc], r.text)
        self.assertTrue(detail[0]["type"].startswith(type_prefix), r.text)
        self.assertIsInstance(detail[0]["msg"], str)
        return detail[0]


class Txt2Img(A1111Case):
    def test_answer_has_images_parameters_and_info(self):
        answer = self.generate(with_(FOX, negative_prompt="blurry", styles=[], subseed=-1))
        png = base64.b64decode(answer["images"][0])
        self.assertEqual(png_size(png), (64, 64))
        infotext = png_text(png)["parameters"]
        info = answer["info"]
        self.assertEqual(info["seed"], 42)
        self.assertEqual(info["all_seeds"], [42])
        self.assertEqual(info["infotexts"], [infotext])
        self.assertEqual(info["prompt"], FOX["prompt"])
        self.assertEqual(info["negative_prompt"], "blurry")
        self.assertEqual((info["width"], info["height"], info["steps"], info["cfg_scale"]), (64, 64, 3, 7.5))
        self.assertEqual(info["sd_model_name"], "tiny-sd15")
        self.assertIn("Seed: 42", infotext)
        self.assertIn("Negative prompt: blurry", infotext)
        # parameters: the request as sent (unknown fields included, as A1111 echoes them).
        self.assertEqual(answer["parameters"]["prompt"], FOX["prompt"])
        self.assertEqual(answer["parameters"]["subseed"], -1)

    def test_same_image_as_a_native_job(self):
        image = self.image(with_(FOX, sampler_name="DDIM"))
        native = self.worker.native_image({"operation": "image_generation", "prompt": FOX["prompt"], "steps": 3,
                                           "width": 64, "height": 64, "seed": 42, "sampler": "ddim",
                                           "guidance_scale": 7.5})
        self.assertEqual(image, native)

    def test_batch_size_and_n_iter_give_consecutive_seeds(self):
        answer = self.generate(with_(FOX, seed=100, batch_size=2, n_iter=2, sampler_name="Euler"))
        info = answer["info"]
        self.assertEqual(info["all_seeds"], [100, 101, 102, 103])
        self.assertEqual(info["batch_size"], 2)
        self.assertEqual(len(answer["images"]), 4)
        self.assertEqual(len(info["infotexts"]), 4)
        for k, image in enumerate(answer["images"]):
            self.assertIn(f"Seed: {100 + k}", png_text(base64.b64decode(image))["parameters"])
        self.assertEqual(len(set(answer["images"])), 4)
        # Each image is the one a single call with its seed gives.
        self.assertEqual(answer["images"][3], self.image(with_(FOX, seed=103, sampler_name="Euler")))
        self.assertEqual(answer["images"][1], self.image(with_(FOX, seed=101, sampler_name="Euler")))

    def test_seed_minus_one_is_a_random_32_bit_seed(self):
        answer = self.generate(with_(FOX, seed=-1, batch_size=2))
        seed = answer["info"]["seed"]
        self.assertTrue(0 <= seed < 2 ** 32, seed)
        self.assertEqual(answer["info"]["all_seeds"], [seed, seed + 1])
        self.assertIn(f"Seed: {seed}", answer["info"]["infotexts"][0])
        # The reported seed gives the same image again.
        self.assertEqual(answer["images"][0], self.image(with_(FOX, seed=seed)))
        self.assertEqual(self.generate(with_(FOX, seed=None))["info"]["seed"] < 2 ** 32, True)

    def test_sampler_names_schedulers_and_the_deprecated_sampler_index(self):
        karras = self.image(with_(FOX, sampler_name="DPM++ 2M Karras"))
        self.assertEqual(karras, self.image(with_(FOX, sampler_name="DPM++ 2M", scheduler="Karras")))
        self.assertEqual(karras, self.image(with_(FOX, sampler_name="dpm++ 2m karras", scheduler="automatic")))
        plain = self.image(with_(FOX, sampler_name="DPM++ 2M", scheduler="Automatic"))
        self.assertNotEqual(plain, karras)
        self.assertEqual(plain, self.image(with_(FOX, sampler_name="dpmpp_2m")))
        euler_a = self.image(with_(FOX, sampler_index="Euler a"))
        self.assertEqual(euler_a, self.image(with_(FOX, sampler_name="k_euler_a")))
        self.assertNotEqual(euler_a, plain)
        self.assertEqual(self.generate(with_(FOX, sampler_name="Euler a"))["info"]["sampler_name"], "Euler a")
        for name in ("UniPC", "LMS", "Heun", "PLMS", "LCM", "DDIM"):
            self.assertEqual(self.generate(with_(FOX, sampler_name=name))["info"]["sampler_name"], name)
        self.expect_422(with_(FOX, sampler_name="DPM++ 3M SDE"), ["sampler_name"], "value_error")
        self.expect_422(with_(FOX, sampler_index="nope"), ["sampler_index"], "value_error")
        self.expect_422(with_(FOX, scheduler="Polyexponential"), ["scheduler"], "value_error")
        # PLMS (pndm) has no Karras schedule: the worker's check, named by the A1111 field.
        self.expect_422(with_(FOX, sampler_name="PLMS", scheduler="Karras"), ["scheduler"], "value_error")

    def test_clip_skip_and_clip_stop_at_last_layers(self):
        one = self.image(with_(FOX, clip_skip=1))
        two = self.image(with_(FOX, clip_skip=2))
        self.assertNotEqual(one, two)
        self.assertEqual(two, self.image(with_(FOX, override_settings={"CLIP_stop_at_last_layers": 2})))
        self.assertEqual(self.generate(with_(FOX, clip_skip=2))["info"]["clip_skip"], 2)
        self.expect_422(with_(FOX, clip_skip=99), ["clip_skip"], "value_error")
        self.expect_422(with_(FOX, override_settings={"CLIP_stop_at_last_layers": 99}),
                        ["override_settings", "CLIP_stop_at_last_layers"], "value_error")

    def test_randn_source(self):
        cpu = self.image(with_(FOX, override_settings={"randn_source": "CPU"}))
        self.assertEqual(cpu, self.image(FOX))
        gpu = self.image(with_(FOX, override_settings={"randn_source": "GPU"}))
        self.assertNotEqual(gpu, cpu)
        self.assertEqual(gpu, self.image(with_(FOX, override_settings={"randn_source": "NV"})))
        self.assertIn("RNG: GPU", png_text(base64.b64decode(gpu))["parameters"])
        native = self.worker.native_image({"operation": "image_generation", "prompt": FOX["prompt"], "steps": 3,
                                           "width": 64, "height": 64, "seed": 42, "rng": "gpu",
                                           "guidance_scale": 7.5})
        self.assertEqual(gpu, native)
        self.expect_422(with_(FOX, override_settings={"randn_source": "TPU"}), ["override_settings", "randn_source"],
                        "value_error")

    def test_send_images_and_save_images(self):
        answer = self.generate(with_(FOX, send_images=False, save_images=True))
        self.assertEqual(answer["images"], [])
        self.assertEqual(answer["info"]["all_seeds"], [42])
        self.assertEqual(len(answer["info"]["infotexts"]), 1)

    def test_wrong_types_are_422(self):
        self.expect_422(with_(FOX, steps="many"), ["steps"], "type_error.integer")
        self.expect_422(with_(FOX, steps=2.5), ["steps"], "type_error.integer")
        self.expect_422(with_(FOX, width=[64]), ["width"], "type_error.integer")
        self.expect_422(with_(FOX, cfg_scale="high"), ["cfg_scale"], "type_error.float")
        self.expect_422(with_(FOX, prompt=5), ["prompt"], "type_error.str")
        self.expect_422(with_(FOX, negative_prompt={"a": 1}), ["negative_prompt"], "type_error.str")
        self.expect_422(with_(FOX, sampler_name=3), ["sampler_name"], "type_error.str")
        self.expect_422(with_(FOX, send_images="maybe"), ["send_images"], "type_error.bool")
        self.expect_422(with_(FOX, save_images=2), ["save_images"], "type_error.bool")
        self.expect_422(with_(FOX, seed="42"), ["seed"], "type_error.integer")
        self.expect_422(with_(FOX, override_settings="fast"), ["override_settings"], "type_error.dict")
        self.expect_422(with_(FOX, override_settings={"randn_source": 1}), ["override_settings", "randn_source"],
                        "type_error.str")
        for body in ("[1, 2]", '"text"'):
            r = requests.post(self.worker.url("/sdapi/v1/txt2img"), data=body, auth=AUTH,
                              headers={"Content-Type": "application/json"}, timeout=30)
            self.assertEqual(r.status_code, 422, r.text)
            self.assertEqual(r.json()["detail"][0]["type"], "type_error.dict")
        # As FastAPI: a form body is not JSON; no type, or a +json type, is.
        r = requests.post(self.worker.url("/sdapi/v1/txt2img"), data=json.dumps(FOX), auth=AUTH,
                          headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
        self.assertEqual(r.status_code, 422, r.text)
        self.assertEqual(r.json()["detail"][0]["type"], "type_error.dict")
        for content_type in (None, "application/vnd.sd+json; charset=utf-8"):
            r = requests.post(self.worker.url("/sdapi/v1/txt2img"), data=json.dumps(with_(FOX, steps="x")), auth=AUTH,
                              headers={"Content-Type": content_type} if content_type else {}, timeout=30)
            self.assertEqual(r.json()["detail"][0]["loc"], ["body", "steps"], r.text)
        r = requests.post(self.worker.url("/sdapi/v1/txt2img"), data="{not json", auth=AUTH,
                          headers={"Content-Type": "application/json"}, timeout=30)
        self.assertEqual(r.status_code, 422, r.text)
        self.assertEqual(r.json()["detail"][0]["type"], "value_error.jsondecode")

    def test_values_out_of_range_are_422(self):
        self.expect_422(with_(FOX, steps=0), ["steps"], "value_error")
        self.expect_422(with_(FOX, steps=151), ["steps"], "value_error")
        self.expect_422(with_(FOX, width=65), ["width"], "value_error")
        self.expect_422(with_(FOX, height=4096), ["height"], "value_error")
        self.expect_422(with_(FOX, cfg_scale=31), ["cfg_scale"], "value_error")
        self.expect_422(with_(FOX, prompt="x" * 20000), ["prompt"], "value_error")
        d = self.expect_422(with_(FOX, batch_size=9), ["batch_size"], "value_error.number.not_le")
        self.assertEqual(d["ctx"], {"limit_value": 8})
        self.expect_422(with_(FOX, batch_size=0), ["batch_size"], "value_error.number.not_ge")
        self.expect_422(with_(FOX, n_iter=9), ["n_iter"], "value_error.number.not_le")
        self.expect_422(with_(FOX, seed=-2), ["seed"], "value_error.number.not_ge")
        # The message names the A1111 field, not the worker's own.
        d = self.expect_422(with_(FOX, cfg_scale=31), ["cfg_scale"], "value_error")
        self.assertTrue(d["msg"].startswith("cfg_scale"), d)

    def test_an_empty_prompt_draws_unconditionally(self):
        answer = self.generate(with_(FOX, prompt=""))
        self.assertEqual(png_size(base64.b64decode(answer["images"][0])), (64, 64))
        self.assertEqual(answer["info"]["prompt"], "")

    def test_one_connection_serves_calls_one_after_another(self):
        # A waiting answer leaves the connection usable for the next request (keep-alive).
        with requests.Session() as session:
            session.auth = AUTH
            images = []
            for _ in range(2):
                r = session.post(self.worker.url("/sdapi/v1/txt2img"), json=FOX, timeout=120)
                self.assertEqual(r.status_code, 200, r.text)
                images.append(r.json()["images"][0])
                self.assertEqual(session.get(self.worker.url("/sdapi/v1/progress"), timeout=30).status_code, 200)
            self.assertEqual(images[0], images[1])
        self.assertIn("a1111 txt2img", self.worker.log())

    def test_unknown_fields_are_ignored(self):
        body = with_(FOX, enable_hr=False, restore_faces=False, tiling=False, script_name=None,
                     alwayson_scripts={}, some_future_field={"x": [1, 2]})
        self.assertEqual(self.image(body), self.image(FOX))


class Auth(A1111Case):
    def test_basic_with_the_token_as_password_and_bearer(self):
        for auth in (AUTH, ("another-user", TOKEN), ("", TOKEN)):
            self.assertEqual(self.worker.get("/sdapi/v1/options", auth=auth).status_code, 200)
        r = requests.get(self.worker.url("/sdapi/v1/sd-models"), headers={"Authorization": "Bearer " + TOKEN}, timeout=30)
        self.assertEqual(r.status_code, 200)
        # The one check serves every route: Basic works on the native ones too.
        self.assertEqual(self.worker.get("/info").status_code, 200)

    def test_wrong_or_missing_credentials_are_401(self):
        for auth in (None, ("anyone", "wrong"), (TOKEN, "wrong")):
            r = requests.post(self.worker.url("/sdapi/v1/txt2img"), json=FOX, auth=auth, timeout=30)
            self.assertEqual(r.status_code, 401)
            self.assertEqual(r.headers["WWW-Authenticate"], "Basic")
            self.assertEqual(r.json(), {"detail": "Incorrect username or password"})
        for header in ("Basic !!!", "Basic " + b64(b"no-colon-here"), "Bearer wrong", "Digest x"):
            r = requests.get(self.worker.url("/sdapi/v1/progress"), headers={"Authorization": header}, timeout=30)
            self.assertEqual(r.status_code, 401, header)


class Listings(A1111Case):
    def test_models_samplers_schedulers_loras_and_empty_lists(self):
        models = self.worker.get("/sdapi/v1/sd-models").json()
        self.assertEqual(len(models), 1)
        self.assertEqual(models[0]["title"], "tiny-sd15")
        self.assertEqual(models[0]["model_name"], "tiny-sd15")
        self.assertTrue(models[0]["filename"].endswith("tiny-sd15"))
        samplers = self.worker.get("/sdapi/v1/samplers").json()
        names = [s["name"] for s in samplers]
        for name in ("Euler a", "Euler", "DPM++ 2M", "DPM++ 2M SDE", "DDIM", "PLMS", "UniPC", "LCM", "LMS", "Heun"):
            self.assertIn(name, names)
        for s in samplers:
            self.assertEqual(set(s), {"name", "aliases", "options"})
        schedulers = self.worker.get("/sdapi/v1/schedulers").json()
        self.assertEqual([s["name"] for s in schedulers], ["automatic", "karras", "exponential"])
        self.assertEqual(schedulers[1]["label"], "Karras")
        loras = self.worker.get("/sdapi/v1/loras").json()
        self.assertEqual([l["name"] for l in loras], ["tiny-lora"])
        for none in ("upscalers", "extensions", "prompt-styles", "face-restorers", "realesrgan-models",
                     "hypernetworks", "latent-upscale-modes", "sd-vae"):
            r = self.worker.get("/sdapi/v1/" + none)
            self.assertEqual((r.status_code, r.json()), (200, []), none)
        for refreshed in ("refresh-checkpoints", "refresh-vae", "refresh-loras"):
            r = self.worker.post("/sdapi/v1/" + refreshed, None)  # no body, as webuiapi sends
            self.assertEqual((r.status_code, r.json()), (200, None), refreshed)
        self.assertEqual(self.worker.get("/sdapi/v1/scripts").json(), {"txt2img": [], "img2img": []})

    def test_options(self):
        options = self.worker.get("/sdapi/v1/options").json()
        self.assertEqual(options["sd_model_checkpoint"], "tiny-sd15")
        self.assertEqual(options["CLIP_stop_at_last_layers"], 1)
        self.assertEqual(options["randn_source"], "CPU")
        r = self.worker.post("/sdapi/v1/options", {"sd_model_checkpoint": "v1-5-pruned-emaonly.safetensors"})
        self.assertEqual(r.status_code, 400, r.text)
        self.assertIn("v1-5-pruned-emaonly.safetensors", r.json()["detail"])
        self.assertEqual(r.json()["error"], "HTTPException")
        r = self.worker.post("/sdapi/v1/txt2img",
                             with_(FOX, override_settings={"sd_model_checkpoint": "sdxl.safetensors"}))
        self.assertEqual(r.status_code, 400, r.text)
        self.assertEqual(self.worker.post("/sdapi/v1/options", {"sd_model_checkpoint": "tiny-sd15"}).status_code, 200)
        r = self.worker.post("/sdapi/v1/options", {"CLIP_stop_at_last_layers": "two"})
        self.assertEqual(r.status_code, 422)
        self.assertEqual(r.json()["detail"][0]["loc"], ["body", "CLIP_stop_at_last_layers"])
        # Options shape later calls, as A1111's do.
        two = self.image(with_(FOX, clip_skip=2))
        gpu_two = self.image(with_(FOX, clip_skip=2, override_settings={"randn_source": "GPU"}))
        r = self.worker.post("/sdapi/v1/options", {"CLIP_stop_at_last_layers": 2, "randn_source": "GPU",
                                                   "show_progressbar": True})
        self.assertEqual(r.status_code, 200, r.text)
        try:
            options = self.worker.get("/sdapi/v1/options").json()
            self.assertEqual((options["CLIP_stop_at_last_layers"], options["randn_source"]), (2, "GPU"))
            self.assertEqual(self.image(FOX), gpu_two)
            self.assertEqual(self.image(with_(FOX, override_settings={"randn_source": "CPU"})), two)
        finally:
            self.worker.post("/sdapi/v1/options", {"CLIP_stop_at_last_layers": 1, "randn_source": "CPU"})

    def test_png_info(self):
        image = self.image(with_(FOX, negative_prompt="ugly", sampler_name="Euler a", scheduler="karras"))
        r = self.worker.post("/sdapi/v1/png-info", {"image": image})
        self.assertEqual(r.status_code, 200, r.text)
        answer = r.json()
        infotext = png_text(base64.b64decode(image))["parameters"]
        self.assertEqual(answer["info"], infotext)
        p = answer["parameters"]
        self.assertEqual(p["Prompt"], FOX["prompt"])
        self.assertEqual(p["Negative prompt"], "ugly")
        self.assertEqual(p["Steps"], "3")
        self.assertEqual(p["Seed"], "42")
        self.assertEqual((p["Size-1"], p["Size-2"]), ("64", "64"))
        self.assertEqual(self.worker.post("/sdapi/v1/png-info", {"image": "data:image/png;base64," + image}).json(),
                         answer)
        r = self.worker.post("/sdapi/v1/png-info", {"image": "not an image"})
        self.assertEqual(r.status_code, 400)
        self.assertIn("Invalid encoded image", r.json()["detail"])
        r = self.worker.post("/sdapi/v1/png-info", {})
        self.assertEqual(r.status_code, 422)
        self.assertEqual(r.json()["detail"][0]["loc"], ["body", "image"])
        # A PNG without parameters.
        r = self.worker.post("/sdapi/v1/png-info", {"image": INIT_IMAGE})
        self.assertEqual(r.json()["info"], "")


class Img2Img(A1111Case):
    def native(self, operation, **fields):
        body = {"operation": operation, "prompt": FOX["prompt"], "steps": 3, "seed": 42, "guidance_scale": 7.5,
                "sampler": "ddim", "input_image": INIT_IMAGE}
        body.update(fields)
        return self.worker.native_image(body)

    def test_img2img_is_the_native_transform(self):
        body = with_(FOX, sampler_name="DDIM", init_images=[INIT_IMAGE], denoising_strength=0.6)
        answer = self.generate(body, "/sdapi/v1/img2img")
        self.assertEqual(answer["images"][0], self.native("image_transform", strength=0.6))
        self.assertEqual(answer["info"]["denoising_strength"], 0.6)
        self.assertFalse(answer["info"]["is_using_inpainting_conditioning"])
        self.assertNotIn("init_images", answer["parameters"])
        self.assertIn("Denoising strength: 0.6", answer["info"]["infotexts"][0])
        # A1111's default strength is 0.75.
        default = self.image(with_(FOX, sampler_name="DDIM", init_images=[INIT_IMAGE]), "/sdapi/v1/img2img")
        self.assertEqual(default, self.native("image_transform", strength=0.75))
        with_images = self.generate(with_(body, include_init_images=True), "/sdapi/v1/img2img")
        self.assertEqual(with_images["parameters"]["init_images"], [INIT_IMAGE])

    def masked_pixels(self, **changes):
        body = with_(FOX, sampler_name="DDIM", init_images=[INIT_IMAGE], mask=MASK, denoising_strength=0.8,
                     inpainting_fill=1, mask_blur=0, inpaint_full_res=False)
        body = {k: v for k, v in with_(body, **changes).items() if v is not None}  # None: left out
        return png_pixels(base64.b64decode(self.image(body, "/sdapi/v1/img2img")))

    def test_masked_img2img_is_inpainting_with_the_original_pasted_back(self):
        # A1111: the masked half is the inpainting result, the other half the input's own pixels.
        got = self.masked_pixels()
        native = png_pixels(base64.b64decode(self.native("image_inpaint", mask_image=MASK, strength=0.8)))
        for y in range(64):
            for x in range(64):
                if x < 32:
                    self.assertEqual(pixel(got, x, y), pixel(native, x, y), (x, y))
                else:
                    self.assertEqual(pixel(got, x, y), (x * 4, y * 4, 128), (x, y))
        inverted = self.masked_pixels(inpainting_mask_invert=1)
        native_inverted = png_pixels(base64.b64decode(self.native("image_inpaint", mask_image=MASK_INVERTED,
                                                                  strength=0.8)))
        self.assertEqual(pixel(inverted, 10, 10), (40, 40, 128))
        self.assertEqual(pixel(inverted, 50, 10), pixel(native_inverted, 50, 10))

    def test_mask_blur_softens_the_edge_of_the_paste(self):
        sharp, soft = self.masked_pixels(), self.masked_pixels(mask_blur=4)
        # Far from the edge both agree; at the edge the blurred paste mixes the two.
        for x in (4, 60):
            self.assertEqual(pixel(sharp, x, 20), pixel(soft, x, 20))
        self.assertNotEqual([pixel(sharp, x, 20) for x in range(28, 36)], [pixel(soft, x, 20) for x in range(28, 36)])
        # mask_blur_x alone blurs across columns only; mask_blur sets both.
        self.assertEqual(self.masked_pixels(mask_blur=None, mask_blur_x=4, mask_blur_y=4), soft)
        self.assertNotEqual(self.masked_pixels(mask_blur=None, mask_blur_x=4, mask_blur_y=0), sharp)

    def test_inpainting_fill_modes_start_the_masked_area_differently(self):
        images = [self.masked_pixels(inpainting_fill=fill) for fill in range(4)]
        for a in range(4):
            for b in range(a + 1, 4):
                self.assertNotEqual([pixel(images[a], 10, y) for y in range(64)],
                                    [pixel(images[b], 10, y) for y in range(64)], (a, b))
        for image in images:
            self.assertEqual(pixel(image, 50, 30), (200, 120, 128))
        # A1111's API default is 0, "fill".
        self.assertEqual(self.masked_pixels(inpainting_fill=None), images[0])

    def test_only_masked_inpaints_the_box_at_full_size_and_keeps_the_rest(self):
        # A 24x24 mask in a 128x96 input; the box with 8 px padding is 40x40 at (72, 22), run at 64x64.
        init = b64(make_png(128, 96, lambda x, y: (x * 2, y * 2, 90)))
        mask = b64(make_png(128, 96, lambda x, y: (255 if 80 <= x < 104 and 30 <= y < 54 else 0,), channels=1))
        body = with_(FOX, sampler_name="DDIM", init_images=[init], mask=mask, denoising_strength=0.8,
                     inpainting_fill=1, mask_blur=0, inpaint_full_res_padding=8)
        only = base64.b64decode(self.image(body, "/sdapi/v1/img2img"))
        self.assertEqual(png_size(only), (128, 96))  # the input's size, not the generation's
        got = png_pixels(only)
        changed = 0
        for y in range(96):
            for x in range(128):
                if not (72 <= x < 112 and 22 <= y < 62):
                    self.assertEqual(pixel(got, x, y), (x * 2, y * 2, 90), (x, y))
                elif 80 <= x < 104 and 30 <= y < 54:
                    changed += pixel(got, x, y) != (x * 2, y * 2, 90)
        self.assertGreater(changed, 24 * 24 // 2)
        # "Only masked" is A1111's API default; "whole picture" answers at the generation's size.
        self.assertEqual(base64.b64decode(self.image(with_(body, inpaint_full_res=True), "/sdapi/v1/img2img")), only)
        whole = base64.b64decode(self.image(with_(body, inpaint_full_res=False), "/sdapi/v1/img2img"))
        self.assertEqual(png_size(whole), (64, 64))
        # More padding: a larger box, so a different image of the masked area.
        wider = png_pixels(base64.b64decode(self.image(with_(body, inpaint_full_res_padding=30), "/sdapi/v1/img2img")))
        self.assertNotEqual([pixel(wider, x, 40) for x in range(80, 104)], [pixel(got, x, 40) for x in range(80, 104)])
        # A blank mask: img2img of the whole picture, as A1111 does.
        blank = b64(make_png(128, 96, lambda x, y: (0,), channels=1))
        plain = self.image(with_(body, mask=blank), "/sdapi/v1/img2img")
        img2img = self.image(with_(FOX, sampler_name="DDIM", init_images=[init], denoising_strength=0.8),
                             "/sdapi/v1/img2img")
        self.assertEqual(png_pixels(base64.b64decode(plain)), png_pixels(base64.b64decode(img2img)))

    def test_batches_of_img2img(self):
        answer = self.generate(with_(FOX, init_images=[INIT_IMAGE], batch_size=2, seed=5), "/sdapi/v1/img2img")
        self.assertEqual(answer["info"]["all_seeds"], [5, 6])
        self.assertEqual(len(answer["images"]), 2)

    def test_bad_img2img_requests_are_422(self):
        self.expect_422(FOX, ["init_images"], "value_error", "/sdapi/v1/img2img")
        self.expect_422(with_(FOX, init_images=[]), ["init_images"], "value_error", "/sdapi/v1/img2img")
        self.expect_422(with_(FOX, init_images=INIT_IMAGE), ["init_images"], "type_error.list", "/sdapi/v1/img2img")
        self.expect_422(with_(FOX, init_images=[7]), ["init_images", 0], "type_error.str", "/sdapi/v1/img2img")
        self.expect_422(with_(FOX, init_images=["%%%"]), ["init_images", 0], "value_error", "/sdapi/v1/img2img")
        self.expect_422(with_(FOX, init_images=[b64(b"not a picture")]), ["init_images", 0], "value_error",
                        "/sdapi/v1/img2img")
        self.expect_422(with_(FOX, init_images=[INIT_IMAGE] * 9), ["init_images"], "value_error.list.max_items",
                        "/sdapi/v1/img2img")
        self.expect_422(with_(FOX, init_images=[INIT_IMAGE], denoising_strength=1.5), ["denoising_strength"],
                        "value_error", "/sdapi/v1/img2img")
        self.expect_422(with_(FOX, init_images=[INIT_IMAGE], denoising_strength="most"), ["denoising_strength"],
                        "type_error.float", "/sdapi/v1/img2img")
        self.expect_422(with_(FOX, init_images=[INIT_IMAGE], mask="%%%"), ["mask"], "value_error",
                        "/sdapi/v1/img2img")
        self.expect_422(with_(FOX, init_images=[INIT_IMAGE], mask=MASK, mask_blur=300), ["mask_blur"],
                        "value_error", "/sdapi/v1/img2img")
        self.expect_422(with_(FOX, init_images=[INIT_IMAGE], mask=MASK, mask_blur_y=-1), ["mask_blur_y"],
                        "value_error", "/sdapi/v1/img2img")
        self.expect_422(with_(FOX, init_images=[INIT_IMAGE], mask=MASK, inpaint_full_res_padding=-1),
                        ["inpaint_full_res_padding"], "value_error.number.not_ge", "/sdapi/v1/img2img")
        self.expect_422(with_(FOX, init_images=[INIT_IMAGE], mask=MASK, inpaint_full_res_padding=100000),
                        ["inpaint_full_res_padding"], "value_error", "/sdapi/v1/img2img")
        self.expect_422(with_(FOX, init_images=[INIT_IMAGE], mask=MASK, inpaint_full_res="sometimes"),
                        ["inpaint_full_res"], "type_error.bool", "/sdapi/v1/img2img")
        self.expect_422(with_(FOX, init_images=[INIT_IMAGE], mask=MASK, inpainting_fill=7), ["inpainting_fill"],
                        "value_error.number.not_le", "/sdapi/v1/img2img")
        self.expect_422(with_(FOX, init_images=[INIT_IMAGE], mask=MASK, inpainting_mask_invert=2),
                        ["inpainting_mask_invert"], "value_error.number.not_le", "/sdapi/v1/img2img")


class InpaintModel(A1111Case):
    model = "tiny-sd15-inpaint"

    def test_inpaint_model_uses_its_conditioning(self):
        body = with_(FOX, init_images=[INIT_IMAGE], mask=MASK, denoising_strength=1.0, mask_blur=0)
        answer = self.generate(body, "/sdapi/v1/img2img")
        self.assertTrue(answer["info"]["is_using_inpainting_conditioning"])
        self.assertEqual(png_size(base64.b64decode(answer["images"][0])), (64, 64))
        native = self.worker.native_image({"operation": "image_inpaint", "prompt": FOX["prompt"], "steps": 3,
                                           "seed": 42, "guidance_scale": 7.5, "input_image": INIT_IMAGE,
                                           "mask_image": MASK, "strength": 1.0})
        # The native job's image under the mask, the input's own pixels (pasted back) elsewhere.
        got, want = png_pixels(base64.b64decode(answer["images"][0])), png_pixels(base64.b64decode(native))
        for y in range(0, 64, 3):
            for x in range(64):
                self.assertEqual(pixel(got, x, y), pixel(want, x, y) if x < 32 else (x * 4, y * 4, 128), (x, y))


class ProgressInterruptSkip(A1111Case):
    def start_call(self, body):
        result = {}

        def run():
            result["response"] = self.worker.post("/sdapi/v1/txt2img", body, timeout=300)

        thread = threading.Thread(target=run)
        thread.start()
        return thread, result

    def wait_progress(self, condition, limit=120):
        deadline = time.time() + limit
        while time.time() < deadline:
            p = self.worker.get("/sdapi/v1/progress").json()
            if condition(p):
                return p
            time.sleep(0.05)
        self.fail("progress never reached the condition: " + json.dumps(p)[:500])

    def test_idle_progress(self):
        p = self.worker.get("/sdapi/v1/progress").json()
        self.assertEqual(p["progress"], 0)
        self.assertEqual(p["eta_relative"], 0)
        self.assertEqual(p["state"]["job_count"], 0)
        self.assertIsNone(p["current_image"])
        self.assertEqual(set(p["state"]), {"skipped", "interrupted", "stopping_generation", "job", "job_count",
                                           "job_timestamp", "job_no", "sampling_step", "sampling_steps"})

    def test_progress_skip_and_interrupt(self):
        thread, result = self.start_call(with_(FOX, steps=60, n_iter=3, seed=7))
        p = self.wait_progress(lambda p: p["state"]["sampling_step"] >= 2 and p["current_image"])
        state = p["state"]
        self.assertEqual(state["job_count"], 3)
        self.assertEqual(state["job_no"], 0)
        self.assertEqual(state["sampling_steps"], 60)
        self.assertEqual(state["job"], "txt2img")
        self.assertTrue(0 < p["progress"] < 1, p["progress"])
        self.assertGreater(p["eta_relative"], 0)
        preview = base64.b64decode(p["current_image"])
        self.assertEqual(preview[:8], b"\x89PNG\r\n\x1a\n")
        self.assertIsNone(self.worker.get("/sdapi/v1/progress", params={"skip_current_image": "true"})
                          .json()["current_image"])
        # While the call waits for its images, the worker answers everything else at once.
        self.assertEqual(self.worker.get("/health", timeout=5).status_code, 200)

        r = self.worker.post("/sdapi/v1/skip", None)
        self.assertEqual(r.status_code, 200)
        p = self.wait_progress(lambda p: p["state"]["job_no"] == 1 and p["state"]["sampling_step"] >= 1)
        self.assertTrue(p["state"]["skipped"])
        self.assertGreater(p["progress"], 1 / 3)

        r = self.worker.post("/sdapi/v1/interrupt", None)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json(), {})
        thread.join(120)
        self.assertFalse(thread.is_alive())
        answer = result["response"]
        self.assertEqual(answer.status_code, 200, answer.text)
        info = json.loads(answer.json()["info"])
        self.assertEqual(info["all_seeds"], [7, 8, 9])
        # The skipped and the interrupted image are not there, nor the one never started.
        self.assertEqual(answer.json()["images"], [])
        self.assertEqual(self.worker.get("/sdapi/v1/progress").json()["state"]["job_count"], 0)

    def test_a_client_that_leaves(self):
        # The call's image is still made (as A1111 does); progress follows it, then is idle.
        with self.assertRaises(requests.exceptions.ReadTimeout):
            self.worker.post("/sdapi/v1/txt2img", with_(FOX, steps=12, seed=3), timeout=0.5)
        self.wait_progress(lambda p: p["state"]["job_count"] == 1)
        self.wait_progress(lambda p: p["state"]["job_count"] == 0)
        self.assertEqual(self.image(with_(FOX, steps=2)), self.image(with_(FOX, steps=2)))
        self.assertIn("completed", self.worker.log())

    def test_waiting_calls_hold_no_thread(self):
        # More calls than the server has handler threads (4), all waiting for their images.
        calls = [self.start_call(with_(FOX, steps=40, seed=s)) for s in range(6)]
        self.wait_progress(lambda p: p["state"]["sampling_step"] >= 1)
        started = time.time()
        for path in ("/health", "/sdapi/v1/progress", "/sdapi/v1/options", "/info"):
            self.assertEqual(self.worker.get(path, timeout=10).status_code, 200, path)
        self.assertTrue(all(thread.is_alive() for thread, _ in calls[1:]), "calls finished before the check")
        self.assertLess(time.time() - started, 10)
        while any(thread.is_alive() for thread, _ in calls):
            self.worker.post("/sdapi/v1/interrupt", None)
            time.sleep(0.1)
        for _, result in calls:
            self.assertEqual(result["response"].status_code, 200)


class Shutdown(unittest.TestCase):
    def test_sigterm_answers_a_waiting_call(self):
        worker = Worker()
        try:
            result = {}
            thread = threading.Thread(target=lambda: result.update(
                r=worker.post("/sdapi/v1/txt2img", with_(FOX, steps=150, n_iter=2), timeout=120)))
            thread.start()
            deadline = time.time() + 60
            while time.time() < deadline:
                if worker.get("/sdapi/v1/progress").json()["state"]["sampling_step"] >= 1:
                    break
                time.sleep(0.05)
            worker.process.terminate()
            self.assertEqual(worker.process.wait(60), 0, worker.log())
            thread.join(60)
            # Cancelled at shutdown: answered (no images) before the worker went away.
            self.assertEqual(result["r"].status_code, 200, result["r"].text)
            self.assertEqual(result["r"].json()["images"], [])
        finally:
            worker.stop()


if __name__ == "__main__":
    unittest.main()
