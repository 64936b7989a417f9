/**
 * The demo's "detect on a server" mode: the page encodes (stem + codec on WebGPU), a `webvcm serve` server decodes
 * and detects. Still images, or a webcam stream over the WebSocket (keep-newest drop policy), drawn live with
 * per-frame bytes, bpp, round-trip ms and fps. Self-contained: main.ts only calls mountRemote().
 */
import { createRemoteDecoder, type RemoteDecoder, type StreamMessage } from '../src/client/remote.ts';
import type { VcmEncoder } from '../src/api/index.ts';

export interface RemoteHooks {
  /** The page's encoder (loads the models when needed). */
  getEncoder(): Promise<VcmEncoder>;
  /** The current still image's file bytes, if any. */
  getImageBytes(): Uint8Array | null;
  view: HTMLCanvasElement;
}

function drawBoxes(g: CanvasRenderingContext2D, boxes: Float32Array, scores: Float32Array, names: string[], sx = 1, sy = 1): void {
  g.lineWidth = 2;
  g.font = '12px sans-serif';
  for (let i = 0; i < scores.length && i < 50; i++) {
    const [x1, y1, x2, y2] = [boxes[4 * i]! * sx, boxes[4 * i + 1]! * sy, boxes[4 * i + 2]! * sx, boxes[4 * i + 3]! * sy];
    g.strokeStyle = '#00e0ff';
    g.strokeRect(x1, y1, x2 - x1, y2 - y1);
    g.fillStyle = '#00e0ff';
    g.fillText(`${names[i] ?? '?'} ${scores[i]!.toFixed(2)}`, x1 + 2, Math.max(10, y1 - 2));
  }
}

export function mountRemote(h: RemoteHooks, parent: HTMLElement = document.body): void {
  const box = document.createElement('fieldset');
  box.id = 'remote';
  box.innerHTML = `<legend>Detect on a server</legend>
    <label>server <input id="remoteUrl" size="28" value="http://127.0.0.1:8787"></label>
    <label>token <input id="remoteToken" size="12" type="password"></label>
    <button id="remoteStill">send image</button> <button id="remoteCam">webcam stream</button>
    <div id="remoteStats">start a server with <code>npx webvcm serve --cors '*'</code></div>`;
  parent.append(box);
  const q = <T extends HTMLElement>(id: string) => box.querySelector(`#${id}`) as T;
  const stats = q('remoteStats');
  const remote = (): RemoteDecoder => createRemoteDecoder({ url: q<HTMLInputElement>('remoteUrl').value, token: q<HTMLInputElement>('remoteToken').value || undefined });

  q<HTMLButtonElement>('remoteStill').onclick = async () => {
    try {
      const bytes = h.getImageBytes();
      if (!bytes) { stats.textContent = 'load an image first'; return; }
      stats.textContent = 'encoding…';
      const enc = await (await h.getEncoder()).encode(bytes);
      stats.textContent = 'waiting for the server…';
      const r = await remote().decode(enc.bytes);
      drawBoxes(h.view.getContext('2d')!, r.detections.boxes, r.detections.scores, r.names);
      stats.textContent = `${enc.bytes.length} B, ${enc.bpp.container.toFixed(4)} bpp; ${r.detections.scores.length} detections; round trip ${r.roundTripMs.toFixed(0)} ms (server ${(r.timings['server total'] ?? NaN).toFixed(0)} ms)`;
    } catch (e) {
      stats.textContent = (e as Error).message;
    }
  };

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
      const sent = new Map<number, { bytes: number; bpp: number; frame: ImageBitmap }>();
      const done: number[] = [];
      let running = true, id = 0, dropped = 0;
      const s = await remote().stream({
        onMessage: (m: StreamMessage) => {
          const f = sent.get(m.id as number);
          if (m.id !== null) sent.delete(m.id);
          if (m.type === 'dropped') { dropped++; f?.frame.close(); return; }
          if (m.type !== 'detections' || !f) { if (m.type === 'error') stats.textContent = String(m.problem.detail ?? m.problem.title); return; }
          g.drawImage(f.frame, 0, 0);
          f.frame.close();
          drawBoxes(g, m.detections.boxes, m.detections.scores, m.names);
          const now = performance.now();
          done.push(now);
          while (done.length && done[0]! < now - 2000) done.shift();
          stats.textContent = `frame ${m.id}: ${f.bytes} B, ${f.bpp.toFixed(4)} bpp, round trip ${m.roundTripMs.toFixed(0)} ms, ${(done.length / 2).toFixed(1)} fps, ${dropped} dropped`;
        },
        onClose: () => { running = false; },
      });
      stop = () => { running = false; stop = null; void s.close(); for (const t of media.getTracks()) t.stop(); q('remoteCam').textContent = 'webcam stream'; };
      q('remoteCam').textContent = 'stop';
      while (running) {
        frameCanvas.getContext('2d')!.drawImage(video, 0, 0);
        const frame = await createImageBitmap(frameCanvas);
        const blob = await new Promise<Blob>((r) => frameCanvas.toBlob((b) => r(b!), 'image/png'));
        const e = await enc.encode(new Uint8Array(await blob.arrayBuffer()));
        if (!running) { frame.close(); break; }
        sent.set(id, { bytes: e.bytes.length, bpp: e.bpp.container, frame });
        s.send(id++, e.bytes);
      }
    } catch (e) {
      stats.textContent = (e as Error).message;
      stop?.();
    }
  };
}
