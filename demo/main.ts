/** The webvcm demo: encode an image's stem features, decode them, finish detection, and show what happened. */
import { checkImageBudget } from '../src/io/image.ts';
import { DRAW_SCORE, mountRemote } from './remote.ts';
import { createDecoder, createEncoder, type VcmDecoder, type VcmEncoder, type EncodeResult, type DecodeResult } from '../src/index.ts';
import { channelRanges, featurePsnr, mostActiveChannels, renderChannel, renderMosaic, type ChannelRange, type RgbaImage } from './feature-view.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $('status'), runBtn = $<HTMLButtonElement>('run'), view = $<HTMLCanvasElement>('view');
let image: ImageBitmap | null = null;
let imageBytes: Uint8Array | null = null;
let encoder: VcmEncoder | null = null, decoder: VcmDecoder | null = null;
let modelsKey = '';
let last: { enc: EncodeResult; dec: DecodeResult } | null = null;

function setStatus(msg: string, error = false): void {
  status.textContent = msg;
  status.classList.toggle('error', error);
}

function progressBar(name: string): (p: { loaded: number; total?: number }) => void {
  const wrap = document.createElement('div');
  wrap.innerHTML = `<small>${name}: <span>0</span></small><div class="bar"><i></i></div>`;
  $('progress').append(wrap);
  const label = wrap.querySelector('span')!, bar = wrap.querySelector('i')!;
  return ({ loaded, total }) => {
    const mb = (n: number) => (n / 1048576).toFixed(1);
    label.textContent = total ? `${mb(loaded)} / ${mb(total)} MB` : `${mb(loaded)} MB`;
    bar.style.width = total ? `${(100 * loaded) / total}%` : '100%';
  };
}

/** Load (or reuse) the encoder and decoder for the current settings; `portable` switches the mode select first. */
async function ensureModels(portable = false): Promise<void> {
  if (portable) $<HTMLSelectElement>('mode').value = 'portable';
  const detFile = $<HTMLInputElement>('detFile').files?.[0];
  const codecFile = $<HTMLInputElement>('codecFile').files?.[0];
  const method = Number($<HTMLSelectElement>('method').value) as 1 | 2;
  const mode = $<HTMLSelectElement>('mode').value as 'compat' | 'portable';
  const minSize = Number($<HTMLInputElement>('minSize').value), maxSize = Number($<HTMLInputElement>('maxSize').value);
  const key = [detFile?.name, detFile?.size, codecFile?.name, codecFile?.size, method, mode, minSize, maxSize].join('|');
  if (key === modelsKey && encoder && decoder) return;
  encoder?.dispose(); decoder?.dispose();
  encoder = decoder = null;
  $('progress').textContent = '';
  const detector = detFile ?? new URL('./default/detector.safetensors', document.baseURI).href;
  const codec = codecFile ?? new URL('./default/codec.safetensors', document.baseURI).href;
  setStatus('loading weights…');
  const bars = { detector: progressBar('detector weights'), codec: progressBar('codec weights') };
  const notices: string[] = [];
  encoder = await createEncoder({ detector, codec, method, mode, minSize, maxSize, onProgress: (p) => bars[p.file](p), onNotice: (l) => notices.push(l) });
  // the decoder shares the encoder's GPUDevice, or runs on wasm as the encoder does
  const where = encoder.backend === 'webgpu' ? { device: encoder.device } : { backend: 'wasm' as const };
  decoder = await createDecoder({ detector: encoder.detectorWeights, codec: encoder.codecWeights, ...where, minSize, maxSize });
  showBackend(encoder, notices);
  modelsKey = key;
}

/** Which backend the page runs on, and why (WebGPU, or wasm when the browser has no adapter). */
function showBackend(enc: VcmEncoder, notices: string[]): void {
  const text = enc.backend === 'webgpu'
    ? `backend: WebGPU (${enc.adapter?.description || enc.adapter?.vendor || 'adapter'})`
    : `backend: wasm (WebAssembly SIMD, no GPU) — ${enc.backendReason}`;
  $('backend').textContent = text;
  $('backend').title = notices.join('\n');
  (window as unknown as { __webvcmBackend: unknown }).__webvcmBackend = { backend: enc.backend, reason: enc.backendReason, text };
}

async function loadImageBytes(bytes: Uint8Array): Promise<void> {
  try { checkImageBudget(bytes); } catch (e) { setStatus((e as Error).message, true); return; } // before any decoding
  imageBytes = bytes;
  image = await createImageBitmap(new Blob([bytes as unknown as BlobPart]));
  view.width = image.width; view.height = image.height;
  view.getContext('2d')!.drawImage(image, 0, 0);
  runBtn.disabled = false;
  setStatus(`image ${image.width}×${image.height} ready`);
}

// Boxes below DRAW_SCORE (remote.ts, shared by both modes) are not drawn: Detectron2's visualizer uses 0.5, the small
// shapes-world model scores lower.

function drawDetections(res: DecodeResult): void {
  const g = view.getContext('2d')!;
  if (image) g.drawImage(image, 0, 0);
  const { boxes, scores, classes } = res.detections;
  const names = decoder?.classNames ?? [];
  g.lineWidth = Math.max(2, view.width / 320);
  g.font = `${Math.max(12, Math.round(view.width / 50))}px system-ui`;
  let drawn = 0;
  for (let i = 0; i < scores.length; i++) {
    if (scores[i]! < DRAW_SCORE) continue; // all detections stay in the data; only confident ones are drawn
    drawn++;
    const [x1, y1, x2, y2] = [boxes[4 * i]!, boxes[4 * i + 1]!, boxes[4 * i + 2]!, boxes[4 * i + 3]!];
    const hue = (classes[i]! * 47) % 360;
    g.strokeStyle = `hsl(${hue} 90% 50%)`;
    g.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const label = `${names[classes[i]!] ?? `class_${classes[i]}`} ${scores[i]!.toFixed(2)}`;
    const w = g.measureText(label).width + 6;
    g.fillStyle = `hsl(${hue} 90% 35%)`;
    g.fillRect(x1, Math.max(0, y1 - 18), w, 18);
    g.fillStyle = '#fff';
    g.fillText(label, x1 + 3, Math.max(13, y1 - 4));
  }
  $('detsummary').textContent = `${scores.length} detections (${drawn} drawn: score ≥ ${DRAW_SCORE})`;
}

function putImage(canvas: HTMLCanvasElement, img: RgbaImage): void {
  canvas.width = img.width; canvas.height = img.height;
  const g = canvas.getContext('2d')!;
  const id = g.createImageData(img.width, img.height);
  id.data.set(img.data);
  g.putImageData(id, 0, 0);
}

/** Per-channel robust ranges of F, computed once per run and used for F and F̂ alike (comparable pictures). */
let fRanges: ChannelRange[] | null = null;

function showFeatures(): void {
  if (!last) return;
  const f = last.enc.features, fh = last.dec.features;
  if (!f || !fh) return;
  fRanges ??= channelRanges(f.data, f.shape);
  const view = $<HTMLSelectElement>('fview').value;
  const ch = Number($<HTMLInputElement>('channel').value);
  $<HTMLInputElement>('channel').disabled = view !== 'channel';
  if (view === 'channel') {
    const r = fRanges[ch]!;
    $('chanOut').textContent = `${ch} (shown ${r.lo.toPrecision(3)} … ${r.hi.toPrecision(3)})`;
    putImage($('fmBefore'), renderChannel(f.data, f.shape, ch, r));
    putImage($('fmAfter'), renderChannel(fh.data, fh.shape, ch, r));
  } else {
    const chans = mostActiveChannels(fRanges, 16);
    $('chanOut').textContent = `16 most active channels: ${chans.join(', ')}`;
    putImage($('fmBefore'), renderMosaic(f.data, f.shape, chans, fRanges));
    putImage($('fmAfter'), renderMosaic(fh.data, fh.shape, chans, fRanges));
  }
  const psnr = featurePsnr(f.data, fh.data, last.enc.quant.min, last.enc.quant.max);
  $('fpsnr').textContent = `F̂ vs F: PSNR ${Number.isFinite(psnr) ? psnr.toFixed(2) : '∞'} dB over the quantizer's range [${last.enc.quant.min.toPrecision(3)}, ${last.enc.quant.max.toPrecision(3)}]`;
}

/** Wall-clock totals per input size: the first run on this page compiles the GPU pipelines, later runs are warm. */
const runHistory = new Map<string, { first: [number, number]; warm?: [number, number]; runs: number }>();

function showStats(enc: EncodeResult, dec: DecodeResult, encMs: number, decMs: number): void {
  const key = `${enc.sizes.resized.join('x')}`;
  const h = runHistory.get(key);
  if (!h) runHistory.set(key, { first: [encMs, decMs], runs: 1 });
  else { h.warm = [encMs, decMs]; h.runs++; }
  const hh = runHistory.get(key)!;
  const fmt = (v?: number) => (v === undefined ? '(run again)' : `${v.toFixed(0)} ms`);
  const rows = [
    ['container bytes', String(enc.bytes.length)],
    ['y / z string bytes', `${enc.stringBytes.y} / ${enc.stringBytes.z}`],
    ['bpp (whole container)', enc.bpp.container.toFixed(4)],
    ['bpp (strings, as CompressAI)', enc.bpp.strings.toFixed(4)],
    ['original → resized', `${enc.sizes.original.join('×')} → ${enc.sizes.resized.join('×')}`],
    [`encode total: first run / warm run (${hh.runs} runs)`, `${fmt(hh.first[0])} / ${fmt(hh.warm?.[0])}`],
    ['decode total: first run / warm run', `${fmt(hh.first[1])} / ${fmt(hh.warm?.[1])}`],
  ];
  const timing = (t: Record<string, number>, side: string) => Object.entries(t).map(([k, v]) => [`${side} ${k}`, `${v.toFixed(1)} ms`]);
  const all = [...rows, ...timing(enc.timings, 'encode'), ...timing(dec.timings, 'decode')];
  $('stats').innerHTML = `<table>${all.map(([k, v]) => `<tr><th>${k}</th><td class="num">${v}</td></tr>`).join('')}</table>`;
}

async function run(): Promise<void> {
  if (!imageBytes) return;
  runBtn.disabled = true;
  try {
    await ensureModels();
    setStatus('encoding…');
    let t0 = performance.now();
    const enc = await encoder!.encode(imageBytes, { returnFeatures: true });
    const encMs = performance.now() - t0;
    setStatus('decoding + detecting…');
    t0 = performance.now();
    const dec = await decoder!.decode(enc.bytes, { returnFeatures: true });
    const decMs = performance.now() - t0;
    last = { enc, dec };
    fRanges = null;
    (window as unknown as { __webvcm: unknown }).__webvcm = {
      bytes: enc.bytes.length, bpp: enc.bpp, backend: encoder!.backend,
      detections: { boxes: Array.from(dec.detections.boxes), scores: Array.from(dec.detections.scores), classes: Array.from(dec.detections.classes), labels: Array.from(dec.detections.classes, (k) => decoder!.classNames[k] ?? `class_${k}`) },
    };
    drawDetections(dec);
    showStats(enc, dec, encMs, decMs);
    $<HTMLInputElement>('channel').max = String((enc.features?.shape[0] ?? 64) - 1);
    showFeatures();
    setStatus(`done: ${dec.detections.scores.length} detections, ${enc.bytes.length} bytes`);
  } catch (e) {
    console.error(e);
    setStatus(String((e as Error).message ?? e), true);
    (window as unknown as { __webvcmError: string }).__webvcmError = String((e as Error).stack ?? e);
  } finally {
    runBtn.disabled = false;
  }
}

$<HTMLInputElement>('file').addEventListener('change', async (ev) => {
  const f = (ev.target as HTMLInputElement).files?.[0];
  if (f) await loadImageBytes(new Uint8Array(await f.arrayBuffer()));
});
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', async (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const f = e.dataTransfer?.files?.[0];
  if (f) await loadImageBytes(new Uint8Array(await f.arrayBuffer()));
});
$('webcam').addEventListener('click', async () => {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: true });
    const video = document.createElement('video');
    video.srcObject = stream;
    video.muted = true;
    await video.play();
    const c = new OffscreenCanvas(video.videoWidth, video.videoHeight);
    c.getContext('2d')!.drawImage(video, 0, 0);
    stream.getTracks().forEach((t) => t.stop());
    const blob = await c.convertToBlob({ type: 'image/png' });
    await loadImageBytes(new Uint8Array(await blob.arrayBuffer()));
  } catch (e) {
    setStatus(`webcam: ${(e as Error).message}`, true);
  }
});
runBtn.addEventListener('click', () => void run());
$('channel').addEventListener('input', showFeatures);
$('fview').addEventListener('change', showFeatures);
(window as unknown as { __runDemo: () => Promise<void> }).__runDemo = run;

// Default image, so the page works without the user supplying anything.
(async () => {
  if (!('gpu' in navigator)) $('backend').textContent = 'backend: wasm (this browser has no WebGPU)';
  const res = await fetch(new URL('./world/example.png', document.baseURI));
  if (res.ok) await loadImageBytes(new Uint8Array(await res.arrayBuffer()));
  else setStatus('choose an image');
  (window as unknown as { __demoReady: boolean }).__demoReady = true;
})();

// "Detect on a server" mode (demo/remote.ts): the page encodes, a `webvcm serve` server detects.
mountRemote({ getEncoder: async () => { await ensureModels(true); return encoder!; }, getImageBytes: () => imageBytes, getImage: () => image, view });
