/**
 * The demo's "detect on a server" mode: the page encodes (stem + codec on WebGPU), a `webvcm serve` server decodes
 * and detects. Still images, or a webcam stream over the WebSocket (keep-newest drop policy), drawn live with
 * per-frame bytes, bpp, round-trip ms and fps. With a variable-rate codec (bmshj2018-hyperprior-vbr, mbt2018-mean-vbr)
 * the stream follows the rate slider's budget (kbit/s): a controller picks each frame's gain from the bytes sent, and
 * the live kbit/s and per-frame bpp are shown. Self-contained: main.ts only calls mountRemote().
 */
import { createRemoteDecoder, type RemoteDecoder, type StreamMessage } from '../src/client/remote.ts';
import type { VcmEncoder } from '../src/api/index.ts';

export interface RemoteHooks {
  /**
   * The page's encoder (loads the models when needed) in 'portable' mode: the server decodes on another device, and
   * only portable streams decode exactly across devices (docs/codec.md); compat streams may not.
   */
  getEncoder(): Promise<VcmEncoder>;
  /** The current still image's file bytes, if any. */
  getImageBytes(): Uint8Array | null;
  /** The current still image, drawn under the server's boxes. */
  getImage(): ImageBitmap | null;
  view: HTMLCanvasElement;
}

/** Boxes below this score are not drawn (all stay in the data); the same threshold as the local mode. */
export const DRAW_SCORE = 0.25;

/** What the last "send image" did, for scripts and tests (window.__webvcmRemote). */
export type RemoteStillState =
  | { ok: true; bytes: number[]; detections: { boxes: number[]; scores: number[]; classes: number[] }; names: string[]; drawn: number; roundTripMs: number }
  | { ok: false; error: string };

/** The webcam stream so far, for scripts and tests (window.__webvcmRemoteStream): replies received, the latest one. */
export interface RemoteStreamState {
  replies: number;
  dropped: number;
  /** With a variable-rate codec: the budget, the measured kbit/s and the last frame's gain. */
  rate?: { budgetKbps: number; kbps: number | null; gain: number | null };
  last?: { id: number; bytes: number[]; detections: { boxes: number[]; scores: number[]; classes: number[] }; drawn: number; roundTripMs: number };
}

/** Draw the boxes with score >= DRAW_SCORE (at most 50); returns how many were drawn. */
function drawBoxes(g: CanvasRenderingContext2D, boxes: Float32Array, scores: Float32Array, names: string[], sx = 1, sy = 1): number {
  g.lineWidth = 2;
  g.font = '12px sans-serif';
  let drawn = 0;
  for (let i = 0; i < scores.length && drawn < 50; i++) {
    if (scores[i]! < DRAW_SCORE) continue;
    drawn++;
    const [x1, y1, x2, y2] = [boxes[4 * i]! * sx, boxes[4 * i + 1]! * sy, boxes[4 * i + 2]! * sx, boxes[4 * i + 3]! * sy];
    g.strokeStyle = '#00e0ff';
    g.strokeRect(x1, y1, x2 - x1, y2 - y1);
    g.fillStyle = '#00e0ff';
    g.fillText(`${names[i] ?? '?'} ${scores[i]!.toFixed(2)}`, x1 + 2, Math.max(10, y1 - 2));
  }
  return drawn;
}

/** The drawn detections as a list (name, score, box in original pixels), one <li> each. */
function listDetections(ol: HTMLElement, boxes: Float32Array, scores: Float32Array, classes: Int32Array, names: string[]): void {
  ol.replaceChildren();
  for (let i = 0; i < scores.length && ol.childElementCount < 50; i++) {
    if (scores[i]! < DRAW_SCORE) continue;
    const li = document.createElement('li');
    li.dataset.class = String(classes[i]);
    li.dataset.score = String(scores[i]);
    li.dataset.box = Array.from(boxes.subarray(4 * i, 4 * i + 4)).join(',');
    li.textContent = `${names[i] ?? '?'} ${scores[i]!.toFixed(2)} [${Array.from(boxes.subarray(4 * i, 4 * i + 4), (v) => v.toFixed(0)).join(', ')}]`;
    ol.append(li);
  }
}

export function mountRemote(h: RemoteHooks, parent: HTMLElement = document.body): void {
  const box = document.createElement('fieldset');
  box.id = 'remote';
  box.innerHTML = `<legend>Detect on a server</legend>
    <label>server <input id="remoteUrl" size="28" value="http://127.0.0.1:8787"></label>
    <label>token <input id="remoteToken" size="12" type="password"></label>
    <button id="remoteStill">send image</button> <button id="remoteCam">webcam stream</button>
    <label title="variable-rate codecs only: the stream's bitrate budget">rate <input id="remoteRate" type="range" min="0" max="100" value="50"> <output id="remoteRateOut"></output></label>
    <div id="remoteStats">start a server with <code>npx webvcm serve --cors '*'</code>; the page encodes portable streams</div>
    <ol id="remoteDets"></ol>`;
  parent.append(box);
  const q = <T extends HTMLElement>(id: string) => box.querySelector(`#${id}`) as T;
  const stats = q('remoteStats');
  const remote = (): RemoteDecoder => createRemoteDecoder({ url: q<HTMLInputElement>('remoteUrl').value, token: q<HTMLInputElement>('remoteToken').value || undefined });

  const setState = (st: RemoteStillState) => {
    (window as unknown as { __webvcmRemote: RemoteStillState }).__webvcmRemote = st;
    box.dataset.state = st.ok ? 'done' : 'error';
  };
  q<HTMLButtonElement>('remoteStill').onclick = async () => {
    box.dataset.state = 'busy';
    try {
      const bytes = h.getImageBytes();
      if (!bytes) { stats.textContent = 'load an image first'; setState({ ok: false, error: 'no image' }); return; }
      stats.textContent = 'encoding…';
      const enc = await (await h.getEncoder()).encode(bytes);
      stats.textContent = 'waiting for the server…';
      const r = await remote().decode(enc.bytes);
      const g = h.view.getContext('2d')!;
      const image = h.getImage();
      if (image) g.drawImage(image, 0, 0); // a fresh picture: boxes of an earlier reply do not stay
      const { boxes, scores, classes } = r.detections;
      const drawn = drawBoxes(g, boxes, scores, r.names);
      listDetections(q('remoteDets'), boxes, scores, classes, r.names);
      stats.textContent = `${enc.bytes.length} B, ${enc.bpp.container.toFixed(4)} bpp; ${scores.length} detections (${drawn} drawn: score ≥ ${DRAW_SCORE}); round trip ${r.roundTripMs.toFixed(0)} ms (server ${(r.timings['server total'] ?? NaN).toFixed(0)} ms)`;
      setState({ ok: true, bytes: Array.from(enc.bytes), detections: { boxes: Array.from(boxes), scores: Array.from(scores), classes: Array.from(classes) }, names: r.names, drawn, roundTripMs: r.roundTripMs });
    } catch (e) {
      stats.textContent = (e as Error).message;
      setState({ ok: false, error: String((e as Error).stack ?? e) });
    }
  };

  // the rate slider: 16 … 4096 kbit/s on a log scale
  const rateIn = q<HTMLInputElement>('remoteRate');
  const budget = (): number => Math.round(16 * 2 ** (Number(rateIn.value) / 12.5));
  const showBudget = () => { q('remoteRateOut').textContent = `${budget()} kbit/s`; };
  showBudget();
  let onBudget: ((kbps: number) => void) | null = null;
  rateIn.oninput = () => { showBudget(); onBudget?.(budget()); };

  let stop: (() => void) | null = null;
  q<HTMLButtonElement>('remoteCam').onclick = async () => {
    if (stop) { stop(); return; }
    try {
      const enc = await h.getEncoder();
      const media = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
      const video = document.createElement('video');
      video.srcObject = media; video.muted = true; await video.play();
      const frameCanvas = document.createElement('canvas');
      frameCanvas.width = video.videoWidth; frameCanvas.height = video.videoHeight;
      h.view.width = video.videoWidth; h.view.height = video.videoHeight;
      const g = h.view.getContext('2d')!;
      const sent = new Map<number, { stream: Uint8Array; bpp: number; frame: ImageBitmap }>();
      const done: number[] = [];
      let running = true, id = 0, dropped = 0;
      const state: RemoteStreamState = { replies: 0, dropped: 0 };
      (window as unknown as { __webvcmRemoteStream: RemoteStreamState }).__webvcmRemoteStream = state;
      const gains = enc.codecModel.gains;
      const rate = gains.length ? { budgetKbps: budget(), minGain: Math.min(...gains), maxGain: Math.max(...gains) } : undefined;
      rateIn.disabled = !rate;
      rateIn.title = rate ? 'the stream\'s bitrate budget' : `${enc.codecModel.architecture} is a fixed-rate codec: load a -vbr model to set a budget`;
      const s = await remote().stream({
        rate,
        onMessage: (m: StreamMessage) => {
          const f = sent.get(m.id as number);
          if (m.id !== null) sent.delete(m.id);
          if (m.type === 'dropped') { state.dropped = ++dropped; f?.frame.close(); return; }
          if (m.type !== 'detections' || !f) { if (m.type === 'error') stats.textContent = String(m.problem.detail ?? m.problem.title); return; }
          g.drawImage(f.frame, 0, 0);
          f.frame.close();
          const drawn = drawBoxes(g, m.detections.boxes, m.detections.scores, m.names);
          const d = m.detections;
          state.replies++;
          state.last = { id: m.id, bytes: Array.from(f.stream), detections: { boxes: Array.from(d.boxes), scores: Array.from(d.scores), classes: Array.from(d.classes) }, drawn, roundTripMs: m.roundTripMs };
          const now = performance.now();
          done.push(now);
          while (done.length && done[0]! < now - 2000) done.shift();
          const rs = s.rateStats();
          if (rs) state.rate = { budgetKbps: rs.budgetKbps, kbps: rs.kbps, gain: rs.lastGain };
          const live = rs ? `; ${rs.kbps?.toFixed(0) ?? '-'} of ${rs.budgetKbps} kbit/s at gain ${rs.lastGain?.toFixed(3) ?? '-'}` : '';
          stats.textContent = `frame ${m.id}: ${f.stream.length} B, ${d.scores.length} detections (${drawn} drawn), ${f.bpp.toFixed(4)} bpp, round trip ${m.roundTripMs.toFixed(0)} ms, ${(done.length / 2).toFixed(1)} fps, ${dropped} dropped${live}`;
        },
        onClose: () => { running = false; },
      });
      onBudget = rate ? (kbps) => s.setBudget(kbps) : null;
      stop = () => { running = false; stop = null; onBudget = null; void s.close(); for (const t of media.getTracks()) t.stop(); q('remoteCam').textContent = 'webcam stream'; };
      q('remoteCam').textContent = 'stop';
      while (running) {
        frameCanvas.getContext('2d')!.drawImage(video, 0, 0);
        const frame = await createImageBitmap(frameCanvas);
        const blob = await new Promise<Blob>((r) => frameCanvas.toBlob((b) => r(b!), 'image/png'));
        const e = await enc.encode(new Uint8Array(await blob.arrayBuffer()), { scale: s.nextScale() });
        if (!running) { frame.close(); break; }
        sent.set(id, { stream: e.bytes, bpp: e.bpp.container, frame });
        s.send(id++, e.bytes);
      }
    } catch (e) {
      stats.textContent = (e as Error).message;
      stop?.();
    }
  };
}
