"""Phone calls one server process carries: N concurrent calls, both directions streaming all the time.

Three kinds of process, so the load generators' CPU is not counted as the server's:
- the server: `coach serve --no-worker` (uvicorn, SQLite), pinned to CPU 0;
- a lean Gemini Live stand-in over TLS (the server's real google-genai SDK dials it): it answers
  `setup`, counts the caller audio it receives (in 20 ms frames: the server sends larger chunks), and
  streams 40 ms chunks of coach speech, keeping 200 ms ahead of real time as the real model does (it generates faster than real time),
  ending a turn every `--turn-seconds` of speech with `turnComplete` and the turn's `usageMetadata` (per
  modality), as the service reports usage, so the server's cost of recording usage per turn is in the figures;
- this process: N lean phone callers. Each sends a 20 ms mu-law frame of line noise every 20 ms (one
  ticker for all calls), notes when each outbound frame arrives and echoes marks (`TwilioMediaCaller`
  models playback and validates every message: too costly for hundreds of calls on one CPU).
Both generators share CPU 1 (when there are two or more CPUs).

For each N (stepped up until a step fails): outbound frames missing in the measuring window (fewer
than 50 per second per call) plus caller frames that never reached the model, p99 outbound frame
lateness (caller-side inter-arrival minus the 20 ms schedule), and the server's CPU seconds per call
per minute (utime+stime from /proc/<pid>/stat). A step passes with no missing frames and p99
lateness < 20 ms. Calls per core = N / (server CPU seconds per second), per step and at the largest
passing step (the figure to quote: a step may fail short of a full core when the loop stalls).
If a load generator uses most of its CPU, its own timing is suspect; its CPU share is shown.

Run: .venv/bin/python bench/voice_capacity.py [--steps 10,20,30,40,50,100,150,200] [--window 8] [--turn-seconds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from audio import coach_turn  # noqa: E402
from fakes.tls import make_tls_files  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402
from websockets.asyncio.server import ServerConnection, serve  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from bench.cpu import cpu_seconds  # noqa: E402
from db import accounts  # noqa: E402
from db.calls import start_call  # noqa: E402
from db.engine import make_engine, make_session_factory  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from tools.channels.stream_token import issue_stream_token  # noqa: E402
from voice.codec import pcm16_to_ulaw  # noqa: E402

SECRET = "bench-secret"
API_KEY = "bench-key"
FRAME_S = 0.020
PCM16K_FRAME_BYTES = 640  # 20 ms of the caller's audio as the model gets it
MODEL_CHUNK_MS = 40
MODEL_LEAD_MS = 200
WARMUP_S = 2.0
RAMP_BATCH = 25
MEDIA_PREFIX = '{"event": "media"'
InboundCall = tuple[str, str, str]  # user id, call session id, call sid


# --- the model stand-in (its own process) ---------------------------------------------------------


def model_audio_message() -> bytes:
    pcm = coach_turn(MODEL_CHUNK_MS / 1000)
    part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": base64.b64encode(pcm).decode()}}
    return json.dumps({"serverContent": {"modelTurn": {"parts": [part]}}}).encode()


def turn_complete_message() -> bytes:
    usage = {
        "promptTokenCount": 1300, "responseTokenCount": 110, "totalTokenCount": 1410,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 900}, {"modality": "AUDIO", "tokenCount": 400}],
        "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 100}, {"modality": "TEXT", "tokenCount": 10}],
    }
    return json.dumps({"serverContent": {"turnComplete": True}, "usageMetadata": usage}).encode()


def caller_audio_bytes(message: str | bytes) -> int:
    """PCM bytes of caller audio in a client message (0 for anything else)."""
    realtime = json.loads(message).get("realtime_input") or {}
    data = (realtime.get("audio") or {}).get("data", "")
    return len(data) * 3 // 4 - data[-2:].count("=")


def serve_model(port: int, cert: str, key: str, stats_file: str, turn_ms: int) -> None:
    """Run the Live stand-in until killed; the caller audio received, in 20 ms frames, goes to `stats_file`."""
    audio, turn_complete = model_audio_message(), turn_complete_message()
    received = 0  # bytes of 16 kHz PCM

    async def stream_audio(ws: ServerConnection) -> None:
        start, sent_ms = time.monotonic(), 0
        while True:
            while sent_ms < (time.monotonic() - start) * 1000 + MODEL_LEAD_MS:
                await ws.send(audio)  # binary, as the real service sends JSON
                sent_ms += MODEL_CHUNK_MS
                if sent_ms % turn_ms == 0:
                    await ws.send(turn_complete)
            await asyncio.sleep(MODEL_CHUNK_MS / 1000)

    async def session(ws: ServerConnection) -> None:
        nonlocal received
        await ws.recv()  # setup
        await ws.send(b'{"setupComplete": {}}')
        streamer = asyncio.create_task(stream_audio(ws))
        try:
            async for message in ws:
                received += caller_audio_bytes(message)
        except ConnectionClosed:
            pass
        finally:
            streamer.cancel()

    async def main() -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        async with serve(session, "127.0.0.1", port, ssl=context, max_size=None):
            while True:
                Path(stats_file).write_text(str(received // PCM16K_FRAME_BYTES))
                await asyncio.sleep(0.25)

    asyncio.run(main())


# --- the phone callers (this process) -------------------------------------------------------------


@dataclass
class Call:
    ws: ClientConnection
    stream_sid: str
    sequence: int = 1
    frames_sent: int = 0
    arrivals: list[float] = field(default_factory=list)
    failed: bool = False  # the call dropped before the caller hung up
    hanging_up: bool = False

    def _next(self) -> str:
        self.sequence += 1
        return str(self.sequence)

    async def send_frame(self, payload: str) -> None:
        timestamp = self.frames_sent * 20
        self.frames_sent += 1
        await self.ws.send(
            f'{{"event":"media","sequenceNumber":"{self._next()}","streamSid":"{self.stream_sid}","media":'
            f'{{"track":"inbound","chunk":"{self.frames_sent}","timestamp":"{timestamp}","payload":"{payload}"}}}}'
        )

    async def receive(self) -> None:
        try:
            async for message in self.ws:
                if message.startswith(MEDIA_PREFIX):
                    self.arrivals.append(time.monotonic())
                else:
                    mark = json.loads(message).get("mark")
                    if mark is not None:  # played at once: only the server's cost of marks matters here
                        await self.ws.send(json.dumps({"event": "mark", "sequenceNumber": self._next(),
                                                       "streamSid": self.stream_sid, "mark": mark}))
        except ConnectionClosed:
            self.failed = not self.hanging_up

    async def hang_up(self) -> None:
        self.hanging_up = True
        try:
            await self.ws.send(json.dumps({"event": "stop", "sequenceNumber": self._next(), "streamSid": self.stream_sid,
                                           "stop": {"accountSid": "AC0", "callSid": "CA0"}}))
            await self.ws.close()
        except ConnectionClosed:
            pass


async def dial(port: int, call: InboundCall) -> Call:
    user_id, call_session_id, call_sid = call
    stream_sid = "MZ" + uuid.uuid4().hex
    token = issue_stream_token(SECRET, user_id=user_id, call_session_id=call_session_id, purpose="conversation",
                               call_sid=call_sid)
    ws = await connect(f"ws://127.0.0.1:{port}/twilio/media", proxy=None, compression=None, ping_interval=None,
                       open_timeout=30)
    await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
    await ws.send(json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": stream_sid, "start": {
        "accountSid": "AC0", "streamSid": stream_sid, "callSid": call_sid, "tracks": ["inbound"],
        "customParameters": {"token": token},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}))
    return Call(ws, stream_sid)


def line_noise_frames(count: int = 50) -> list[str]:
    """Base64 mu-law frames of quiet line noise (-60 dBFS): real work for the VAD, never a barge-in."""
    rng = np.random.default_rng(3)
    noise = np.rint(rng.normal(0, 32768 * 10 ** (-60 / 20), 160 * count)).astype("<i2").tobytes()
    ulaw = pcm16_to_ulaw(noise)
    return [base64.b64encode(ulaw[i : i + 160]).decode() for i in range(0, len(ulaw), 160)]


async def ticker(calls: list[Call], stop: asyncio.Event, slips: list[float]) -> None:
    """One 20 ms clock for every call's inbound frame."""
    frames, start, tick = line_noise_frames(), time.monotonic(), 0
    while not stop.is_set():
        tick += 1
        delay = start + tick * FRAME_S - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        slips.append(max(-delay, 0.0))
        for call in list(calls):
            if not call.failed:
                try:
                    await call.send_frame(frames[tick % len(frames)])
                except ConnectionClosed:
                    call.failed = True


# --- measuring --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    calls: int
    missing_out: int
    missing_in: int
    lateness_p99_ms: float
    server_cpu_per_call_min: float
    server_cores: float
    generator_cores: float
    failed_calls: int

    @property
    def calls_per_core(self) -> float:
        """Calls one fully busy core would carry at this step's cost per call."""
        return self.calls / self.server_cores

    @property
    def passed(self) -> bool:
        return self.missing_out == 0 and self.missing_in == 0 and self.lateness_p99_ms < 20 and not self.failed_calls


def model_received(stats_file: Path) -> int:
    return int(stats_file.read_text() or 0)


async def run_step(n: int, port: int, inbound: list[InboundCall], server_pid: int, model_pid: int, stats_file: Path,
                   window_s: float) -> Step:
    calls: list[Call] = []
    stop, slips = asyncio.Event(), []
    in_before = model_received(stats_file)
    clock = asyncio.create_task(ticker(calls, stop, slips))
    receivers = []
    for start in range(0, n, RAMP_BATCH):
        batch = await asyncio.gather(*(dial(port, call) for call in inbound[start : min(start + RAMP_BATCH, n)]))
        calls.extend(batch)
        receivers += [asyncio.create_task(call.receive()) for call in batch]
        await asyncio.sleep(0.1)
    await asyncio.sleep(WARMUP_S)
    t0, server0, model0, me0 = time.monotonic(), cpu_seconds(server_pid), cpu_seconds(model_pid), cpu_seconds(os.getpid())
    await asyncio.sleep(window_s)
    t1, server1, model1, me1 = time.monotonic(), cpu_seconds(server_pid), cpu_seconds(model_pid), cpu_seconds(os.getpid())
    stop.set()
    await clock
    await asyncio.gather(*(call.hang_up() for call in calls))
    await asyncio.gather(*receivers)
    missing_in = await settled_missing_inbound(calls, stats_file, in_before)

    expected = round((t1 - t0) / FRAME_S)
    missing_out, gaps = 0, []
    for call in calls:
        arrivals = np.array([a for a in call.arrivals if t0 <= a < t1])
        missing_out += max(expected - arrivals.size - 1, 0)  # one frame of slack for the window's edges
        gaps.append(np.maximum(np.diff(arrivals) - FRAME_S, 0.0))
    elapsed = t1 - t0
    return Step(
        calls=n,
        missing_out=missing_out,
        missing_in=missing_in,
        lateness_p99_ms=float(np.percentile(np.concatenate(gaps), 99) * 1000),
        server_cpu_per_call_min=(server1 - server0) / elapsed * 60 / n,
        server_cores=(server1 - server0) / elapsed,
        generator_cores=(model1 - model0 + me1 - me0) / elapsed,
        failed_calls=sum(call.failed for call in calls),
    )


async def settled_missing_inbound(calls: list[Call], stats_file: Path, before: int) -> int:
    """Caller frames the model never got, once the server has forwarded what it had (counts settle)."""
    sent = sum(call.frames_sent for call in calls)
    last, deadline = -1, time.monotonic() + 10
    while time.monotonic() < deadline:
        await asyncio.sleep(0.6)
        now = model_received(stats_file) - before
        if now == last or now >= sent:
            return max(sent - now, 0)
        last = now
    return max(sent - last, 0)


# --- processes ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process {process.args!r} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {port}")


async def create_users(database_url: str, count: int) -> list[str]:
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as session:
            users = [await accounts.create_user(session, name=f"Caller {i}", phone=f"+1415555{i:04d}", email=None,
                                                timezone="UTC") for i in range(count)]
            await session.commit()
            return [user.id for user in users]
    finally:
        await engine.dispose()


async def start_inbound_calls(database_url: str, users: list[str]) -> list[InboundCall]:
    """One call session per user, as the voice webhook starts it (a stream token opens only its own call's stream)."""
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as session:
            started = [
                await start_call(session, user_id=user, direction="inbound", purpose="conversation",
                                 call_sid="CA" + uuid.uuid4().hex)
                for user in users
            ]
            await session.commit()
            return [(call.user_id, call.id, call.call_sid or "") for call in started]
    finally:
        await engine.dispose()


def pin(pid: int, cpus: set[int]) -> None:
    if len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(pid, cpus)


def measure(steps: list[int], window_s: float, directory: Path, turn_s: float) -> list[Step]:
    database_url = f"sqlite+aiosqlite:///{directory / 'coach.db'}"
    upgrade(database_url)
    users = asyncio.run(create_users(database_url, max(steps)))
    tls = make_tls_files(directory)
    model_port, server_port, stats_file = free_port(), free_port(), directory / "model-stats"
    stats_file.write_text("0")
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    model = subprocess.Popen([sys.executable, __file__, "--serve-model", str(model_port), str(tls.cert_file),
                              str(tls.key_file), str(stats_file), str(round(turn_s * 1000))], cwd=REPO, env=env)
    server_env = {**env, "DATABASE_URL": database_url, "COACH_SECRET_KEY": SECRET, "GEMINI_API_KEY": API_KEY,
                  "GEMINI_BASE_URL": f"https://127.0.0.1:{model_port}", "GEMINI_CA_FILE": str(tls.ca_file),
                  "PUBLIC_URL": f"http://127.0.0.1:{server_port}"}
    with open(directory / "server.log", "wb") as log:
        server = subprocess.Popen([sys.executable, "-c", "import sys; from server.cli import main; sys.exit(main())",
                                   "serve", "--no-worker", "--port", str(server_port)],
                                  cwd=REPO, env=server_env, stderr=log, stdout=log)
    try:
        wait_for_port(model_port, model)
        wait_for_port(server_port, server)
        pin(server.pid, {0})
        pin(model.pid, {1})
        pin(os.getpid(), {1})
        results: list[Step] = []
        for n in steps:
            inbound = asyncio.run(start_inbound_calls(database_url, users[:n]))
            step = asyncio.run(run_step(n, server_port, inbound, server.pid, model.pid, stats_file, window_s))
            results.append(step)
            print_row(step, flush=True)
            if not step.passed:
                break
            time.sleep(1.0)  # the previous calls' sessions wind down
        return results
    finally:
        for process in (server, model):
            process.send_signal(signal.SIGTERM)
            process.wait(10)


HEADER = (f"{'calls':>5} {'missing out':>11} {'missing in':>10} {'p99 late ms':>11} {'server cpu s/call/min':>21} "
          f"{'server cores':>12} {'calls/core':>10} {'generator cores':>15} {'failed':>6} {'pass':>5}")


def print_row(step: Step, flush: bool = False) -> None:
    print(f"{step.calls:>5} {step.missing_out:>11} {step.missing_in:>10} {step.lateness_p99_ms:>11.1f} "
          f"{step.server_cpu_per_call_min:>21.3f} {step.server_cores:>12.2f} {step.calls_per_core:>10.0f} "
          f"{step.generator_cores:>15.2f} "
          f"{step.failed_calls:>6} {'yes' if step.passed else 'no':>5}", flush=flush)


def summarize(results: list[Step]) -> None:
    passing = [step for step in results if step.passed]
    if not passing:
        print("\nno step passed")
        return
    best = passing[-1]
    print(f"\nlargest N with no missing frames and p99 lateness < 20 ms: {best.calls}")
    print(f"calls per core at that N: {best.calls_per_core:.0f} "
          f"(= 60 / {best.server_cpu_per_call_min:.3f} server CPU s per call per minute); target >= 100")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-model":
        serve_model(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="10,20,30,40,50,100,150,200", help="comma-separated call counts")
    parser.add_argument("--window", type=float, default=8.0, help="seconds measured per step")
    parser.add_argument("--turn-seconds", type=float, default=4.0,
                        help="seconds of coach speech per model turn (each ends with its usage report)")
    options = parser.parse_args()
    print(f"load average before the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (other work skews the figures)")
    print(HEADER)
    print("-" * len(HEADER))
    with tempfile.TemporaryDirectory() as directory:
        results = measure([int(n) for n in options.steps.split(",")], options.window, Path(directory),
                          options.turn_seconds)
    summarize(results)


if __name__ == "__main__":
    main()
