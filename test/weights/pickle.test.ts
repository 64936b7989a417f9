import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CheckpointError, PickleError, UnsafePickleError, readCheckpoint } from '../../src/model/weights/index.ts';
import { unpickle, PyCallable } from '../../src/model/weights/pickle.ts';
import { resolveNumpyGlobal } from '../../src/model/weights/npickle.ts';
import { bytesOf, fixture } from './helpers.ts';

const b = (...parts: (string | number[])[]): Uint8Array =>
  new Uint8Array(parts.flatMap((p) => (typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : p)));

const refuseAll = { resolveGlobal: (m: string, n: string): unknown => { throw new UnsafePickleError(`${m}.${n}`); } };

describe('safe unpickler', () => {
  it('reads containers and numbers of protocol 2', () => {
    // {'a': [1, -2, 3.5, None, True], 'b': (b'xy', 70000, -(2**40))}
    const p = b([0x80, 2], '}q\x00(X\x01\x00\x00\x00a]q\x01(K\x01J', [0xfe, 0xff, 0xff, 0xff], 'G', [0x40, 0x0c, 0, 0, 0, 0, 0, 0], 'N', [0x88], 'eX\x01\x00\x00\x00bC\x02xyJ', [0x70, 0x11, 1, 0], [0x8a, 6, 0, 0, 0, 0, 0, 0xff], [0x87], 'u.');
    const r = unpickle(p, refuseAll) as Map<string, unknown>;
    expect(r.get('a')).toEqual([1, -2, 3.5, null, true]);
    const t = r.get('b') as unknown[];
    expect([...(t[0] as Uint8Array)]).toEqual([0x78, 0x79]);
    expect(t[1]).toBe(70000);
    expect(t[2]).toBe(-(2 ** 40));
  });

  it('refuses globals outside the allow-list and never calls them', () => {
    // the classic payload: os.system('echo pwned')
    const evil = b([0x80, 2], 'cos\nsystem\nq\x00X\x0a\x00\x00\x00echo pwnedq\x01', [0x85], 'R.');
    expect(() => unpickle(evil, refuseAll)).toThrow(UnsafePickleError);
    expect(() => readCheckpoint(evil)).toThrow(/refusing to load pickle global 'os.system'/);
    const evil4 = b([0x80, 4], [0x8c, 8], 'builtins', [0x8c, 4], 'eval', [0x93], [0x8c, 3], '1+1', [0x85], 'R.');
    expect(() => readCheckpoint(evil4)).toThrow(UnsafePickleError);
  });

  it('refuses class-instantiating opcodes and bad opcodes with a PickleError', () => {
    expect(() => unpickle(b([0x80, 2], '(iposix\nsystem\n.'), refuseAll)).toThrow(/refusing pickle opcode INST/);
    expect(() => unpickle(b([0x80, 2], [0xff], '.'), refuseAll)).toThrow(/invalid or unsupported pickle opcode 0xff/);
    expect(() => readCheckpoint(b([0x80, 2], '}q\x00', [0x99], '.'))).toThrow(PickleError);
    expect(() => unpickle(b([0x80, 2], 'K\x01b.'), refuseAll)).toThrow(PickleError); // BUILD on an int
    expect(() => unpickle(b([0x80, 2], 'K\x01K\x02R.'), refuseAll)).toThrow(/not an allowed callable/);
    expect(() => unpickle(b([0x80, 5], [0x97], '.'), refuseAll)).toThrow(/out-of-band/);
    expect(() => unpickle(b([0x80, 2], 'h\x07.'), refuseAll)).toThrow(/memo key 7 missing/);
    expect(() => unpickle(b([0x80, 2], 't.'), refuseAll)).toThrow(/MARK expected/);
  });

  it('reports truncated pickles as TRUNCATED errors', () => {
    const p = bytesOf(fixture('det_p4.pkl'));
    for (const n of [3, 100, p.length >> 1, p.length - 1]) {
      let err: unknown;
      try {
        readCheckpoint(p.subarray(0, n));
      } catch (e) {
        err = e;
      }
      expect(err, `cut at ${n}`).toBeInstanceOf(CheckpointError);
      expect((err as CheckpointError).code).toBe('TRUNCATED');
    }
  });

  it('survives self-referencing containers', () => {
    // l = []; l.append(l)
    const r = unpickle(b([0x80, 2], ']q\x00h\x00a.'), { resolveGlobal: resolveNumpyGlobal }) as unknown[];
    expect(r[0]).toBe(r);
  });

  it('allow-listed callables are the only code that runs', () => {
    let calls = 0;
    const r = unpickle(b([0x80, 2], 'cmy\nf\n', 'K\x05', [0x85], 'R.'), {
      resolveGlobal: (m, n) => (m === 'my' && n === 'f' ? new PyCallable('my.f', (a) => (calls++, (a[0] as number) * 2)) : undefined),
    });
    expect(r).toBe(10);
    expect(calls).toBe(1);
  });

  it('numpy arrays: Fortran order, big-endian, float64/int64/float16 narrowing', () => {
    const raw = readCheckpoint(bytesOf(fixture('arrays_p4.pkl')));
    const exp = JSON.parse(readFileSync(fixture('arrays_expected.json'), 'utf8')) as Record<string, { shape: number[]; values: number[] }>;
    expect(raw.tensors.get('int64')!.dtype).toBe('int32');
    expect(raw.tensors.get('float64')!.dtype).toBe('float32');
    for (const [k, e] of Object.entries(exp)) {
      const t = raw.tensors.get(k)!;
      expect(t.shape, k).toEqual(e.shape);
      expect([...t.data], k).toEqual(e.values.map((v) => (t.dtype === 'float32' ? Math.fround(v) : v)));
    }
  });

  it('torch zip: custom prefix, deflated entries, double/long/half storages, strided and offset views, wrapper + module. prefix', () => {
    const raw = readCheckpoint(bytesOf(fixture('torch_odd.pth')));
    const exp = JSON.parse(readFileSync(fixture('torch_odd_expected.json'), 'utf8')) as Record<string, { shape: number[]; values: number[] }>;
    expect(raw.format).toBe('torch-zip');
    expect(raw.metadata).toEqual({ epoch: '3', note: 'fixture' });
    for (const k of ['double', 'long', 'half', 'transposed', 'offset_view']) {
      const t = raw.tensors.get(k)!;
      expect(t, k).toBeDefined();
      expect(t.shape, k).toEqual(exp[k]!.shape);
      expect([...t.data], k).toEqual(exp[k]!.values.map((v) => (t.dtype === 'float32' ? Math.fround(v) : v)));
    }
  });
});
