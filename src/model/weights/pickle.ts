// A small, safe unpickler (pickle protocols 0-5, as written by CPython).
//
// Safety by construction: the virtual machine only builds JS primitives, arrays (lists, tuples, sets), Maps (dicts)
// and byte views. Every GLOBAL / STACK_GLOBAL goes through a caller-supplied allow-list resolver that returns a
// `PyCallable` (a plain JS function written by us) or a marker object; any other name throws UnsafePickleError.
// Nothing from the stream is ever evaluated. Opcodes that instantiate arbitrary classes (INST, OBJ, NEWOBJ_EX) and the
// copyreg extension registry (EXT1/2/4) are refused.
//
// Why not a pickle library from npm: the one candidate (pickleparser 0.2.1) builds plain objects from dict keys
// (prototype pollution), calls whatever a REDUCE finds on the stack, decodes BINSTRING as windows-1252 and large
// protocol-2 latin-1 array payloads into JS strings. This VM keeps byte payloads as views into the input buffer
// (zero copy) and decodes protocol-2 latin-1 payloads straight to bytes.
import { PickleError, TruncatedCheckpointError, UnsafePickleError } from './errors.ts';

/** A function the unpickler may call (REDUCE / NEWOBJ). `setState` handles a following BUILD on its results. */
export class PyCallable {
  constructor(
    readonly qualname: string,
    readonly call: (args: unknown[]) => unknown,
  ) {}
}

/** Objects built by allow-listed callables may accept BUILD by implementing this. */
export interface PyBuildable {
  __setstate__(state: unknown): void;
}

/** A large str (BINUNICODE) kept as its UTF-8 bytes until needed: protocol-2 numpy payloads are latin-1 strs. */
export class LazyUnicode {
  constructor(readonly utf8: Uint8Array) {}
  toString(): string {
    return new TextDecoder('utf-8', { fatal: false }).decode(this.utf8);
  }
}

/** A byte string from BINSTRING/SHORT_BINSTRING (Python 2 `str`), i.e. raw bytes that Python 3 decodes as latin-1. */
export class Py2Str {
  constructor(readonly bytes: Uint8Array) {}
  toString(): string {
    return latin1Decode(this.bytes);
  }
}

export interface UnpickleOptions {
  /** Map (module, name) to an allowed value; must throw UnsafePickleError for anything else. */
  resolveGlobal: (module: string, name: string) => unknown;
  /** torch's persistent_load; when absent a persistent id is an error. */
  persistentLoad?: (pid: unknown) => unknown;
}

const LAZY_UNICODE_MIN = 1 << 16;

export function latin1Decode(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, Math.min(b.length, i + 8192)));
  return s;
}

/** str -> bytes with the latin-1 codec (Python `_codecs.encode(s, 'latin1')`). */
export function latin1Encode(s: string | LazyUnicode | Py2Str): Uint8Array {
  if (s instanceof Py2Str) return s.bytes;
  if (s instanceof LazyUnicode) {
    // Decode UTF-8 straight to code points; each must be <= 0xFF.
    const src = s.utf8;
    const out = new Uint8Array(src.length);
    let o = 0;
    for (let i = 0; i < src.length; ) {
      const c = src[i]!;
      if (c < 0x80) {
        out[o++] = c;
        i += 1;
      } else if ((c & 0xfe) === 0xc2 && i + 1 < src.length && (src[i + 1]! & 0xc0) === 0x80) {
        out[o++] = ((c & 0x1f) << 6) | (src[i + 1]! & 0x3f);
        i += 2;
      } else {
        throw new PickleError(`latin-1 encode: character outside U+0000..U+00FF in a byte payload`);
      }
    }
    return out.subarray(0, o);
  }
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new PickleError(`latin-1 encode: character U+${c.toString(16)} outside U+0000..U+00FF`);
    out[i] = c;
  }
  return out;
}

/** Turn any pickled text value into a JS string. */
export function pyStr(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof LazyUnicode || v instanceof Py2Str) return v.toString();
  return undefined;
}

const OPNAMES: Record<number, string> = {
  0x69: 'INST',
  0x6f: 'OBJ',
  0x92: 'NEWOBJ_EX',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x97: 'NEXT_BUFFER',
};

/** Parse one pickle from `buf` (which may be a view). Returns the unpickled root object. */
export function unpickle(buf: Uint8Array, opts: UnpickleOptions): unknown {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = buf.length;
  let pos = 0;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  const ascii = new TextDecoder('latin1');
  const utf8 = new TextDecoder('utf-8');

  const need = (k: number): void => {
    if (k < 0 || pos + k > n) {
      throw new TruncatedCheckpointError(`pickle data ends early: needs ${k} more byte(s) at byte ${pos} of ${n}`);
    }
  };
  const u8 = (): number => {
    need(1);
    return buf[pos++]!;
  };
  const u16 = (): number => {
    need(2);
    const v = dv.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = dv.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = dv.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const lo = dv.getUint32(pos, true);
    const hi = dv.getUint32(pos + 4, true);
    pos += 8;
    if (hi >= 0x200000) throw new PickleError('64-bit length too large', pos - 8);
    return hi * 2 ** 32 + lo;
  };
  const bytes = (k: number): Uint8Array => {
    need(k);
    const v = buf.subarray(pos, pos + k);
    pos += k;
    return v;
  };
  const line = (): string => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) throw new TruncatedCheckpointError(`pickle data ends early: unterminated text line at byte ${pos}`);
    const s = ascii.decode(buf.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const unicode = (k: number): string | LazyUnicode => {
    const b = bytes(k);
    return k >= LAZY_UNICODE_MIN ? new LazyUnicode(b) : utf8.decode(b);
  };
  const pop = (at: number): unknown => {
    if (stack.length === 0) throw new PickleError('stack underflow', at);
    return stack.pop();
  };
  const top = (at: number): unknown => {
    if (stack.length === 0) throw new PickleError('stack underflow', at);
    return stack[stack.length - 1];
  };
  const popMark = (at: number): unknown[] => {
    const items = stack;
    const prev = metastack.pop();
    if (prev === undefined) throw new PickleError('MARK expected on the stack', at);
    stack = prev;
    return items;
  };
  const key = (k: unknown, at: number): unknown => {
    const s = pyStr(k);
    if (s !== undefined) return s;
    if (typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean' || k === null) return k;
    if (Array.isArray(k)) return JSON.stringify(k.map((e) => (typeof e === 'bigint' ? e.toString() : e)));
    throw new PickleError('unsupported dict key type', at);
  };
  const setItem = (d: unknown, k: unknown, v: unknown, at: number): void => {
    if (!(d instanceof Map)) throw new PickleError('SETITEM on a non-dict', at);
    d.set(key(k, at), v);
  };
  const signedLE = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const call = (fn: unknown, args: unknown, at: number): unknown => {
    if (!(fn instanceof PyCallable)) throw new PickleError('REDUCE/NEWOBJ target is not an allowed callable', at);
    if (!Array.isArray(args)) throw new PickleError(`arguments of ${fn.qualname} are not a tuple`, at);
    return fn.call(args);
  };
  const global = (module: string, name: string): unknown => {
    const v = opts.resolveGlobal(module, name);
    if (v === undefined) throw new UnsafePickleError(`${module}.${name}`);
    return v;
  };

  while (pos < n) {
    const at = pos;
    const op = buf[pos++]!;
    switch (op) {
      case 0x80: {
        // PROTO
        const v = u8();
        if (v > 5) throw new PickleError(`unsupported pickle protocol ${v} (2..5 are supported)`, at);
        break;
      }
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: {
        // STOP
        if (stack.length === 0) throw new PickleError('STOP with an empty stack', at);
        return stack.pop();
      }
      case 0x28: // MARK
        metastack.push(stack);
        stack = [];
        break;
      case 0x31: // POP_MARK
        popMark(at);
        break;
      case 0x30: // POP
        pop(at);
        break;
      case 0x32: // DUP
        stack.push(top(at));
        break;
      // memo
      case 0x70: // PUT
        memo.set(parseIntStrict(line(), at), top(at));
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top(at));
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top(at));
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top(at));
        break;
      case 0x67: // GET
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const idx = op === 0x67 ? parseIntStrict(line(), at) : op === 0x68 ? u8() : u32();
        if (!memo.has(idx)) throw new PickleError(`memo key ${idx} missing`, at);
        stack.push(memo.get(idx));
        break;
      }
      // constants and numbers
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(signedLE(bytes(u8())));
        break;
      case 0x8b: {
        // LONG4
        const k = i32();
        if (k < 0) throw new PickleError('negative LONG4 length', at);
        stack.push(signedLE(bytes(k)));
        break;
      }
      case 0x47: {
        // BINFLOAT (big-endian)
        need(8);
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      }
      case 0x49: {
        // INT (text)
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : parseIntStrict(s, at));
        break;
      }
      case 0x4c: // LONG (text)
        stack.push(parseIntStrict(line().replace(/L$/, ''), at));
        break;
      case 0x46: {
        // FLOAT (text)
        const v = Number(line());
        if (Number.isNaN(v)) throw new PickleError('bad FLOAT literal', at);
        stack.push(v);
        break;
      }
      // strings and bytes
      case 0x53: {
        // STRING (text, quoted)
        const s = line();
        if (s.length < 2 || s[0] !== s[s.length - 1] || (s[0] !== "'" && s[0] !== '"')) {
          throw new PickleError('bad STRING literal', at);
        }
        stack.push(s.slice(1, -1));
        break;
      }
      case 0x56: // UNICODE (raw-unicode-escape text)
        stack.push(line());
        break;
      case 0x54: {
        // BINSTRING
        const k = i32();
        if (k < 0) throw new PickleError('negative BINSTRING length', at);
        stack.push(new Py2Str(bytes(k)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(new Py2Str(bytes(u8())));
        break;
      case 0x58: // BINUNICODE
        stack.push(unicode(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(unicode(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(unicode(u64()));
        break;
      case 0x42: // BINBYTES
        stack.push(bytes(u32()));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(bytes(u8()));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(bytes(u64()));
        break;
      case 0x98: // READONLY_BUFFER (no-op on an in-band buffer)
        top(at);
        break;
      // tuples, lists, dicts, sets
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: {
        // TUPLE (pop the mark before touching `stack`: popMark replaces it)
        const items = popMark(at);
        stack.push(items);
        break;
      }
      case 0x85: // TUPLE1
        stack.push([pop(at)]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop(at);
        const a = pop(at);
        stack.push([a, b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop(at);
        const b = pop(at);
        const a = pop(at);
        stack.push([a, b, c]);
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: {
        // LIST
        const items = popMark(at);
        stack.push(items);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop(at);
        const l = top(at);
        if (!Array.isArray(l)) throw new PickleError('APPEND to a non-list', at);
        l.push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark(at);
        const l = top(at);
        if (!Array.isArray(l)) throw new PickleError('APPENDS to a non-list', at);
        for (const it of items) l.push(it);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        const items = popMark(at);
        if (items.length % 2) throw new PickleError('odd number of items for DICT', at);
        const d = new Map();
        for (let i = 0; i < items.length; i += 2) d.set(key(items[i], at), items[i + 1]);
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop(at);
        const k = pop(at);
        setItem(top(at), k, v, at);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark(at);
        if (items.length % 2) throw new PickleError('odd number of items for SETITEMS', at);
        const d = top(at);
        for (let i = 0; i < items.length; i += 2) setItem(d, items[i], items[i + 1], at);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push([]);
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark(at);
        const s = top(at);
        if (!Array.isArray(s)) throw new PickleError('ADDITEMS to a non-set', at);
        for (const it of items) s.push(it);
        break;
      }
      case 0x91: {
        // FROZENSET
        const items = popMark(at);
        stack.push(items);
        break;
      }
      // globals, calls, persistence
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        stack.push(global(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pyStr(pop(at));
        const module = pyStr(pop(at));
        if (name === undefined || module === undefined) throw new PickleError('STACK_GLOBAL needs two strings', at);
        stack.push(global(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop(at);
        const fn = pop(at);
        stack.push(call(fn, args, at));
        break;
      }
      case 0x81: {
        // NEWOBJ  (cls.__new__(cls, *args))
        const args = pop(at);
        const cls = pop(at);
        stack.push(call(cls, args, at));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop(at);
        const obj = top(at);
        if (obj instanceof Map) break; // OrderedDict state (e.g. state_dict._metadata): not needed
        if (obj !== null && typeof obj === 'object' && typeof (obj as PyBuildable).__setstate__ === 'function') {
          (obj as PyBuildable).__setstate__(state);
          break;
        }
        throw new PickleError('BUILD on an object that does not accept state', at);
      }
      case 0x50: // PERSID
      case 0x51: {
        // BINPERSID
        const pid = op === 0x50 ? line() : pop(at);
        if (!opts.persistentLoad) throw new PickleError('persistent id in a pickle that has no external storage', at);
        stack.push(opts.persistentLoad(pid));
        break;
      }
      default: {
        const name = OPNAMES[op];
        if (name === 'NEXT_BUFFER') throw new PickleError('out-of-band pickle buffers (NEXT_BUFFER) are not supported', at);
        if (name) throw new PickleError(`refusing pickle opcode ${name} (0x${op.toString(16)})`, at);
        throw new PickleError(`invalid or unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}`, at);
      }
    }
  }
  throw new TruncatedCheckpointError('pickle data ends without a STOP opcode');
}

function parseIntStrict(s: string, at: number): number {
  if (!/^[+-]?\d+$/.test(s.trim())) throw new PickleError(`bad integer literal '${s.slice(0, 20)}'`, at);
  return Number(s);
}

/** True when `b` starts like a pickle (PROTO opcode with protocol 2..5). */
export function looksLikePickle(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x80 && b[1]! >= 2 && b[1]! <= 5;
}
