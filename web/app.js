// The browser client: microphone -> WS /ws/voice (PCM16 16 kHz), coach audio <- (PCM16 24 kHz), JSON events.
// On /web/ the person gives an API token; embedded in the home page (no token field) the socket is opened
// with the session cookie, and the page's own pending-action cards (no #pending list here) take the answers.
// Barge-in is the server's: on `clear` the page drops the coach audio it has scheduled. A pending action is
// confirmed or declined with the same keys as on the phone (1 = yes, 2 = no), so the server's rule holds:
// only the person, never the model, says yes.
import { COACH_RATE, FrameGatherer, MIC_RATE, PlaybackClock, pcm16ToFloat } from "./pcm.js";

const $ = (id) => document.getElementById(id);
const ANSWERS = new Set(["confirm_pending_action", "cancel_pending_action"]); // a yes or no said aloud
let call = null;

class Call {
  constructor(token) {
    this.token = token;
    this.clock = new PlaybackClock();
    this.sources = new Set();
    this.frames = new FrameGatherer();
    this.opened = false; // has the socket ever opened (see closedBecause)
  }

  async start() {
    // The context runs at 16 kHz: the browser resamples the microphone, and the 24 kHz coach audio on playback.
    this.context = new AudioContext({ sampleRate: MIC_RATE });
    await this.context.audioWorklet.addModule(new URL("capture-worklet.js", import.meta.url));
    this.microphone = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = this.token ? `?token=${encodeURIComponent(this.token)}` : "";
    this.socket = new WebSocket(`${scheme}://${location.host}/ws/voice${query}`);
    this.socket.binaryType = "arraybuffer";
    this.socket.onmessage = (message) =>
      typeof message.data === "string" ? this.onEvent(JSON.parse(message.data)) : this.play(message.data);
    // A refused token fails the handshake (HTTP 403), which a page only sees as a socket that never opened.
    this.socket.onopen = () => (this.opened = true);
    this.socket.onclose = () => this.ended(this.closedBecause());
    const capture = new AudioWorkletNode(this.context, "capture");
    capture.port.onmessage = (message) => this.send(message.data);
    this.context.createMediaStreamSource(this.microphone).connect(capture);
  }

  closedBecause() {
    if (this.opened) return "Call ended.";
    return this.token
      ? "Could not connect: the token was refused, or the server is not reachable."
      : "Could not connect: sign in again, or the server is not reachable.";
  }

  send(block) {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    for (const frame of this.frames.push(block)) this.socket.send(frame.buffer);
  }

  play(buffer) {
    const samples = pcm16ToFloat(buffer);
    if (samples.length === 0) return;
    const audio = this.context.createBuffer(1, samples.length, COACH_RATE);
    audio.copyToChannel(samples, 0);
    const source = this.context.createBufferSource();
    source.buffer = audio;
    source.connect(this.context.destination);
    source.onended = () => this.sources.delete(source);
    this.sources.add(source);
    source.start(this.clock.schedule(this.context.currentTime, audio.duration));
  }

  stopPlayback() {
    for (const source of this.sources) source.stop();
    this.sources.clear();
    this.clock.reset();
  }

  onEvent(event) {
    if (event.type === "clear") this.stopPlayback();
    else if (event.type === "state") status(event.state === "connected" ? "Connected: start talking." : event.state);
    else if (event.type === "transcript") addLine(event.role, event.text);
    else if (event.type === "tool_result" && event.result?.needs_confirmation) addPending(event);
    else if (event.type === "tool_result" && ANSWERS.has(event.tool)) settlePending(event.args?.action_id, event.result);
    else if (event.type === "action_result") settlePending(event.action_id, event.result);
    else if (event.type === "error") status(event.message);
  }

  key(digit) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type: "dtmf", digit }));
  }

  hangUp() {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type: "hangup" }));
    this.socket?.close();
    this.ended("Call ended.");
  }

  ended(message) {
    this.stopPlayback();
    this.microphone?.getTracks().forEach((track) => track.stop());
    this.context?.close();
    if (call === this) call = null;
    status(message);
    buttons(false);
  }
}

function status(text) {
  $("status").textContent = text;
}

function buttons(inCall) {
  $("start").disabled = inCall;
  $("stop").disabled = !inCall;
}

function addLine(role, text) {
  // Transcripts arrive in pieces: a piece from the same speaker continues the current line.
  const last = $("transcript").lastElementChild;
  if (last?.dataset.role === role) {
    last.append(text); // text nodes only: a transcript can never inject markup
    return;
  }
  const item = document.createElement("li");
  item.dataset.role = role;
  const speaker = document.createElement("strong");
  speaker.textContent = role === "caller" ? "You: " : "Coach: ";
  item.append(speaker, text);
  $("transcript").append(item);
  item.scrollIntoView({ block: "nearest" });
}

function addPending(event) {
  if (!$("pending")) return;
  const item = document.createElement("li");
  item.id = `pending-${event.result.pending_action_id}`;
  item.append(event.result.message || event.tool, " ");
  for (const [label, digit] of [["Yes, do it", "1"], ["No", "2"]]) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.onclick = () => call?.key(digit);
    item.append(button, " ");
  }
  $("pending").append(item);
}

function settlePending(actionId, result) {
  const item = document.getElementById(`pending-${actionId}`);
  if (item) item.replaceChildren(result?.message || (result?.success ? "Done." : "Not done."));
}

$("call").addEventListener("submit", async (event) => {
  event.preventDefault();
  buttons(true);
  status("Connecting...");
  call = new Call($("token")?.value.trim() ?? "");
  try {
    await call.start();
  } catch (error) {
    call.ended(`Could not start: ${error.message}`);
  }
});
$("stop").addEventListener("click", () => call?.hangUp());
