// Connectory's side of the JavaScript sandbox, evaluated once per engine instance before any
// connector code. Python and this file exchange JSON text only: connector code can reach no
// Python function, so replacing ctx, globals or Object.prototype changes nothing outside the
// instance; Python checks every request and result that comes out.
//
// Entries (each one V8 task, started by Python under the time limit):
//   __cty.define(file, fn)      run a module's top level, keep its exports
//   __cty.begin(id, json)       prepare a run; __cty.call(id) calls the code; __cty.finish(id, r)
//                               returns the result as JSON, or {"s":"wait"} for a promise
//   __cty.settle(id, n, ok, j)  deliver the result of outbox item n (an apiClient call, a timer)
//   __cty.drain(id)             after an entry's microtasks: the result, or new outbox items
//   __cty.collect(id)           after a run threw: its logs; __cty.cancel(id) forgets a run
(function (global) {
  'use strict';
  const ObjectCreate = Object.create;
  const freeze = Object.freeze;
  const keys = Object.keys;
  const defineProperty = Object.defineProperty;
  const setPrototypeOf = Object.setPrototypeOf;
  const hasOwn = Object.hasOwn;
  const isArray = Array.isArray;
  const parse = JSON.parse;
  const stringify = JSON.stringify;
  const apply = Reflect.apply;
  const construct = Reflect.construct;
  const MapCtor = Map;
  const SetCtor = Set;
  const WeakSetCtor = WeakSet;
  const PromiseCtor = Promise;
  const ErrorCtor = Error;
  const TypeErrorCtor = TypeError;
  const RangeErrorCtor = RangeError;
  const StringCtor = String;
  const Uint8ArrayCtor = Uint8Array;
  const MathMin = Math.min;
  const MathMax = Math.max;
  const MathFloor = Math.floor;
  const DateCtor = Date;
  const encodeURIComponentFn = encodeURIComponent;
  const decodeURIComponentFn = decodeURIComponent;
  const escapeFn = escape;
  const unescapeFn = unescape;
  const ProxyCtor = Proxy;
  const promiseResolve = PromiseCtor.resolve.bind(PromiseCtor);
  const promiseThen = PromiseCtor.prototype.then;
  const push = Array.prototype.push;
  const join = Array.prototype.join;
  const stringIncludes = String.prototype.includes;
  const stringSplit = String.prototype.split;
  const stringSlice = String.prototype.slice;
  const stringReplace = String.prototype.replace;
  const charCodeAt = String.prototype.charCodeAt;
  const fromCharCode = String.fromCharCode;
  const regexExec = RegExp.prototype.exec;
  const mapGet = Map.prototype.get;
  const mapSet = Map.prototype.set;
  const mapDelete = Map.prototype.delete;
  const setAdd = Set.prototype.add;
  const setHas = Set.prototype.has;
  const weakAdd = WeakSet.prototype.add;
  const weakHas = WeakSet.prototype.has;
  const errorStack = (e) => (e !== null && typeof e === 'object' && typeof e.stack === 'string' ? e.stack : '');

  const PRELUDE = 'connectory:prelude';
  const modules = new MapCtor();
  const runs = new MapCtor();
  let current = null;

  // The wall time code sees: the run's own clock when it has one (replay runs code at the
  // moment of the recording), the real time otherwise. Date.now(), new Date() and Date()
  // read it; every other use of Date is the engine's own.
  function clockNow() {
    const run = current;
    return run !== null && typeof run.now === 'number' ? run.now : DateCtor.now();
  }
  global.Date = new ProxyCtor(DateCtor, {
    construct: (target, args, newTarget) =>
      construct(target, args.length === 0 ? [clockNow()] : args, newTarget),
    apply: () => apply(DateCtor.prototype.toString, new DateCtor(clockNow()), []),
    get: (target, key) => (key === 'now' ? clockNow : target[key]),
  });

  // Code may not schedule work Python does not know about: timers come through the outbox,
  // and the engine's own background callbacks are removed.
  delete global.WebAssembly;
  delete global.FinalizationRegistry;
  if (global.Atomics) {
    delete global.Atomics.wait;
    delete global.Atomics.waitAsync;
  }

  function describe(value) {
    if (typeof value === 'string') return value;
    try {
      const text = stringify(value);
      return text === undefined ? StringCtor(value) : text;
    } catch (e) {
      try { return StringCtor(value); } catch (e2) { return '[value]'; }
    }
  }

  function where() {
    const lines = apply(stringSplit, errorStack(new ErrorCtor()), ['\n']);
    for (let i = 1; i < lines.length; i++) {
      const match = apply(regexExec, /\(?([^()\s]+):(\d+):(\d+)\)?$/, [lines[i]]);
      if (match && match[1] !== PRELUDE && match[1] !== '<anonymous>') {
        return match[1] + ':' + match[2] + ':' + match[3];
      }
    }
    return null;
  }

  function log(run, level, args) {
    if (run === null || run.done) return;
    if (run.logLines >= run.limits.logLines || run.logBytes >= run.limits.logBytes) {
      if (!run.logTruncated) {
        run.logTruncated = true;
        apply(push, run.logs, [['warn', 'log limit reached: later lines were dropped', null]]);
      }
      return;
    }
    const parts = [];
    for (let i = 0; i < args.length; i++) apply(push, parts, [describe(args[i])]);
    let text = apply(join, parts, [' ']);
    const room = run.limits.logBytes - run.logBytes;
    if (text.length > room) text = apply(stringSlice, text, [0, MathMax(room, 0)]) + ' [cut]';
    run.logLines += 1;
    run.logBytes += text.length;
    apply(push, run.logs, [[level, text, where()]]);
  }

  function makeLogger(run) {
    const logger = (...args) => log(run, 'info', args);
    logger.debug = (...args) => log(run, 'debug', args);
    logger.info = (...args) => log(run, 'info', args);
    logger.warn = (...args) => log(run, 'warn', args);
    logger.error = (...args) => log(run, 'error', args);
    return freeze(logger);
  }

  // console.* logs to the run whose code is running.
  const consoleObject = {};
  for (const level of ['log', 'debug', 'info', 'warn', 'error']) {
    consoleObject[level] = (...args) => log(current, level === 'log' ? 'info' : level, args);
  }
  defineProperty(global, 'console', { value: freeze(consoleObject), writable: true, configurable: true });

  // ---- bytes, hashes, encodings (V8 has none of the web's helpers) -------------------------

  function utf8(text) {
    const binary = unescapeFn(encodeURIComponentFn(StringCtor(text)));
    const bytes = new Uint8ArrayCtor(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = apply(charCodeAt, binary, [i]);
    return bytes;
  }

  function fromUtf8(bytes) {
    let binary = '';
    for (let i = 0; i < bytes.length; i += 8192) {
      binary += apply(fromCharCode, null, bytes.subarray(i, i + 8192));
    }
    try {
      return decodeURIComponentFn(escapeFn(binary));
    } catch (e) {
      throw new TypeErrorCtor('the bytes are not valid UTF-8 text');
    }
  }

  function toBytes(value) {
    if (value instanceof Uint8ArrayCtor) return value;
    if (typeof value === 'string') return utf8(value);
    throw new TypeErrorCtor('expected text or a Uint8Array, got ' + typeof value);
  }

  const HEX = '0123456789abcdef';
  function hex(bytes) {
    let out = '';
    for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i] >> 4] + HEX[bytes[i] & 15];
    return out;
  }

  function fromHex(text) {
    if (typeof text !== 'string' || text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
      throw new TypeErrorCtor('not hexadecimal text (an even number of 0-9 a-f)');
    }
    const bytes = new Uint8ArrayCtor(text.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(apply(stringSlice, text, [2 * i, 2 * i + 2]), 16);
    return bytes;
  }

  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  function base64(bytes, url) {
    let out = '';
    let i = 0;
    for (; i + 2 < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
      out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
    }
    if (i < bytes.length) {
      const n = (bytes[i] << 16) | ((i + 1 < bytes.length ? bytes[i + 1] : 0) << 8);
      out += B64[n >> 18] + B64[(n >> 12) & 63];
      out += i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=';
      out += '=';
    }
    if (url) out = apply(stringReplace, apply(stringReplace, apply(stringReplace, out, [/\+/g, '-']), [/\//g, '_']), [/=+$/, '']);
    return out;
  }

  function fromBase64(text) {
    if (typeof text !== 'string') throw new TypeErrorCtor('expected base64 text');
    let clean = apply(stringReplace, apply(stringReplace, apply(stringReplace, text, [/-/g, '+']), [/_/g, '/']), [/[\s=]+/g, '']);
    if (!/^[A-Za-z0-9+/]*$/.test(clean) || clean.length % 4 === 1) {
      throw new TypeErrorCtor('not base64 text');
    }
    const bytes = new Uint8ArrayCtor(MathFloor((clean.length * 3) / 4));
    let bits = 0;
    let value = 0;
    let index = 0;
    for (let i = 0; i < clean.length; i++) {
      value = ((value << 6) | B64.indexOf(clean[i])) & 0xffffff;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        bytes[index++] = (value >> bits) & 255;
      }
    }
    return bytes.subarray(0, index);
  }

  function sha256(message) {
    const K = SHA256_K;
    const H = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    const W = new Uint32Array(64);
    const blocks = padded(message);
    for (let offset = 0; offset < blocks.length; offset += 64) {
      for (let t = 0; t < 16; t++) {
        const j = offset + 4 * t;
        W[t] = (blocks[j] << 24) | (blocks[j + 1] << 16) | (blocks[j + 2] << 8) | blocks[j + 3];
      }
      for (let t = 16; t < 64; t++) {
        const x = W[t - 15];
        const y = W[t - 2];
        const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        W[t] = (W[t - 16] + s0 + W[t - 7] + s1) | 0;
      }
      let a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
      for (let t = 0; t < 64; t++) {
        const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        const ch = (e & f) ^ (~e & g);
        const t1 = (h + S1 + ch + K[t] + W[t]) | 0;
        const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        const maj = (a & b) ^ (a & c) ^ (b & c);
        const t2 = (S0 + maj) | 0;
        h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
    }
    return wordsToBytes(H);
  }

  const SHA256_K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);

  function sha1(message) {
    const H = new Uint32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0]);
    const W = new Uint32Array(80);
    const blocks = padded(message);
    for (let offset = 0; offset < blocks.length; offset += 64) {
      for (let t = 0; t < 16; t++) {
        const j = offset + 4 * t;
        W[t] = (blocks[j] << 24) | (blocks[j + 1] << 16) | (blocks[j + 2] << 8) | blocks[j + 3];
      }
      for (let t = 16; t < 80; t++) {
        const x = W[t - 3] ^ W[t - 8] ^ W[t - 14] ^ W[t - 16];
        W[t] = (x << 1) | (x >>> 31);
      }
      let a = H[0], b = H[1], c = H[2], d = H[3], e = H[4];
      for (let t = 0; t < 80; t++) {
        let f, k;
        if (t < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
        else if (t < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
        else if (t < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc; }
        else { f = b ^ c ^ d; k = 0xca62c1d6; }
        const temp = (((a << 5) | (a >>> 27)) + f + e + k + W[t]) | 0;
        e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = temp;
      }
      H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e;
    }
    return wordsToBytes(H);
  }

  function padded(message) {
    const length = message.length;
    const total = (((length + 8) >> 6) + 1) * 64;
    const blocks = new Uint8ArrayCtor(total);
    blocks.set(message);
    blocks[length] = 0x80;
    const bits = length * 8;
    // Lengths up to 2**53 bits: the high word from a division, the low one from the rest.
    const high = MathFloor(bits / 0x100000000);
    const low = bits >>> 0;
    for (let i = 0; i < 4; i++) {
      blocks[total - 8 + i] = (high >>> (24 - 8 * i)) & 255;
      blocks[total - 4 + i] = (low >>> (24 - 8 * i)) & 255;
    }
    return blocks;
  }

  function wordsToBytes(words) {
    const out = new Uint8ArrayCtor(words.length * 4);
    for (let i = 0; i < words.length; i++) {
      out[4 * i] = words[i] >>> 24;
      out[4 * i + 1] = (words[i] >>> 16) & 255;
      out[4 * i + 2] = (words[i] >>> 8) & 255;
      out[4 * i + 3] = words[i] & 255;
    }
    return out;
  }

  function hmac(hash, key, message) {
    let keyBytes = toBytes(key);
    if (keyBytes.length > 64) keyBytes = hash(keyBytes);
    const inner = new Uint8ArrayCtor(64 + message.length);
    const outer = new Uint8ArrayCtor(64 + (hash === sha1 ? 20 : 32));
    for (let i = 0; i < 64; i++) {
      const k = i < keyBytes.length ? keyBytes[i] : 0;
      inner[i] = k ^ 0x36;
      outer[i] = k ^ 0x5c;
    }
    inner.set(message, 64);
    outer.set(hash(inner), 64);
    return hash(outer);
  }

  function encodeAs(bytes, encoding) {
    switch (encoding === undefined ? 'hex' : encoding) {
      case 'hex': return hex(bytes);
      case 'base64': return base64(bytes, false);
      case 'base64url': return base64(bytes, true);
      case 'bytes': return bytes;
      default: throw new TypeErrorCtor("encoding must be 'hex', 'base64', 'base64url' or 'bytes'");
    }
  }

  // ---- secrets: what code computes from a secret is a secret too ----------------------------

  const taintedObjects = new WeakSetCtor();

  function isTainted(run, value) {
    if (run === null) return false;
    if (value instanceof Uint8ArrayCtor) return apply(weakHas, taintedObjects, [value]);
    if (typeof value !== 'string' || value.length === 0) return false;
    if (apply(setHas, run.taint, [value])) return true;
    for (const secret of run.secrets) {
      if (apply(stringIncludes, value, [secret])) return true;
    }
    return false;
  }

  function derived(inputs, output) {
    const run = current;
    let tainted = false;
    for (const input of inputs) tainted = tainted || isTainted(run, input);
    if (tainted) {
      if (typeof output === 'string') apply(setAdd, run.taint, [output]);
      else if (output !== null && typeof output === 'object') apply(weakAdd, taintedObjects, [output]);
    }
    return output;
  }

  // A CSPRNG for uuid(): SHA-256 over Python's per-run random seed and a counter.
  function randomBytes(count) {
    const run = current;
    if (run === null) throw new TypeErrorCtor('random values are available while code runs');
    const out = new Uint8ArrayCtor(count);
    let filled = 0;
    while (filled < count) {
      run.counter += 1;
      const block = sha256(utf8(run.seed + ':' + run.counter));
      const take = MathMin(block.length, count - filled);
      out.set(block.subarray(0, take), filled);
      filled += take;
    }
    return out;
  }

  function toDate(value) {
    const date = value === undefined ? new DateCtor(clockNow()) : value instanceof DateCtor ? value : new DateCtor(value);
    if (isNaN(date.getTime())) throw new RangeErrorCtor('not a valid date: ' + describe(value));
    return date;
  }

  function pad(number, width) {
    let text = StringCtor(number);
    while (text.length < width) text = '0' + text;
    return text;
  }

  function rfc3986(value) {
    return apply(stringReplace, encodeURIComponentFn(StringCtor(value)), [/[!'()*]/g, (c) => '%' + apply(charCodeAt, c, [0]).toString(16).toUpperCase()]);
  }

  const utils = freeze({
    sha256: (data, encoding) => derived([data], encodeAs(sha256(toBytes(data)), encoding)),
    sha1: (data, encoding) => derived([data], encodeAs(sha1(toBytes(data)), encoding)),
    hmacSha256: (key, data, encoding) => derived([key, data], encodeAs(hmac(sha256, key, toBytes(data)), encoding)),
    hmacSha1: (key, data, encoding) => derived([key, data], encodeAs(hmac(sha1, key, toBytes(data)), encoding)),
    base64Encode: (data) => derived([data], base64(toBytes(data), false)),
    base64UrlEncode: (data) => derived([data], base64(toBytes(data), true)),
    base64Decode: (text) => derived([text], fromUtf8(fromBase64(text))),
    base64DecodeBytes: (text) => derived([text], fromBase64(text)),
    hexEncode: (data) => derived([data], hex(toBytes(data))),
    hexDecode: (text) => derived([text], fromUtf8(fromHex(text))),
    hexDecodeBytes: (text) => derived([text], fromHex(text)),
    utf8Encode: (text) => derived([text], utf8(text)),
    utf8Decode: (bytes) => derived([bytes], fromUtf8(bytes)),
    uuid: () => {
      const b = randomBytes(16);
      b[6] = (b[6] & 0x0f) | 0x40;
      b[8] = (b[8] & 0x3f) | 0x80;
      const h = hex(b);
      return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
    },
    randomHex: (count) => hex(randomBytes(count === undefined ? 16 : count)),
    urlEncode: (value) => derived([value], rfc3986(value)),
    urlDecode: (text) => derived([text], decodeURIComponentFn(apply(stringReplace, StringCtor(text), [/\+/g, ' ']))),
    buildQuery: (params) => {
      const parts = [];
      for (const name of keys(params || {}).sort()) {
        const value = params[name];
        if (value === undefined || value === null) continue;
        const values = isArray(value) ? value : [value];
        for (const item of values) apply(push, parts, [rfc3986(name) + '=' + rfc3986(item)]);
      }
      return apply(join, parts, ['&']);
    },
    parseQuery: (text) => {
      const out = ObjectCreate(null);
      const query = apply(stringReplace, StringCtor(text || ''), [/^\?/, '']);
      if (!query) return out;
      for (const pair of apply(stringSplit, query, ['&'])) {
        const at = pair.indexOf('=');
        const name = utils.urlDecode(at < 0 ? pair : apply(stringSlice, pair, [0, at]));
        const value = at < 0 ? '' : utils.urlDecode(apply(stringSlice, pair, [at + 1]));
        if (hasOwn(out, name)) out[name] = isArray(out[name]) ? [...out[name], value] : [out[name], value];
        else out[name] = value;
      }
      return out;
    },
    parseUrl: (url) => {
      const match = apply(regexExec, /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/, [StringCtor(url)]);
      if (!match) throw new TypeErrorCtor('not an absolute URL: ' + describe(url));
      const host = match[2];
      const portMatch = apply(regexExec, /^(.*?)(?::(\d+))?$/, [host]);
      return freeze({
        protocol: match[1].toLowerCase() + ':',
        host,
        hostname: portMatch[1],
        port: portMatch[2] || '',
        origin: match[1].toLowerCase() + '://' + host,
        pathname: match[3] || '/',
        search: match[4] || '',
        query: utils.parseQuery(match[4] || ''),
        hash: match[5] || '',
      });
    },
    now: () => clockNow(),
    formatDate: (value, format) => {
      const date = toDate(value);
      switch (format === undefined ? 'iso' : format) {
        case 'iso': return date.toISOString();
        case 'http': return date.toUTCString();
        case 'unix': return MathFloor(date.getTime() / 1000);
        case 'unixMs': return date.getTime();
        default: {
          const fields = {
            YYYY: pad(date.getUTCFullYear(), 4), MM: pad(date.getUTCMonth() + 1, 2),
            DD: pad(date.getUTCDate(), 2), HH: pad(date.getUTCHours(), 2),
            mm: pad(date.getUTCMinutes(), 2), ss: pad(date.getUTCSeconds(), 2),
            SSS: pad(date.getUTCMilliseconds(), 3),
          };
          return apply(stringReplace, StringCtor(format), [/YYYY|MM|DD|HH|mm|ss|SSS/g, (token) => fields[token]]);
        }
      }
    },
  });

  // ---- runs ----------------------------------------------------------------------------------

  function define(file, body) {
    const exports = ObjectCreate(null);
    apply(mapSet, modules, [file, exports]);
    body(exports);
  }

  function credentialsView(run, values) {
    const target = freeze(values);
    return new ProxyCtor(target, {
      get(object, name) {
        if (typeof name !== 'string' || name in object) {
          return object[name];
        }
        const error = new TypeErrorCtor(
          "credential '" + name + "' is not declared for " + run.label +
          '; add it to the credentials: list of this hook or method in the connector');
        throw error;
      },
    });
  }

  function begin(id, text) {
    const input = parse(text);
    const exports = apply(mapGet, modules, [input.file]);
    const run = {
      id, kind: input.kind, label: input.label, limits: input.limits,
      secrets: input.secrets, seed: input.seed, now: input.now, counter: 0,
      taint: new SetCtor(), pub: new SetCtor(), logs: [], logLines: 0, logBytes: 0,
      logTruncated: false, outbox: [], waiting: new MapCtor(), nextItem: 0, calls: 0,
      timers: 0, result: null, done: false, fn: null, ctx: null, original: null,
    };
    apply(mapSet, runs, [id, run]);
    current = run;
    if (exports === undefined) {
      throw new TypeErrorCtor(input.file + ' did not load; see its earlier error');
    }
    const fn = exports[input.export];
    if (typeof fn !== 'function') {
      throw new TypeErrorCtor(input.label + ' is not a function (' + (input.export === 'default'
        ? 'write export default function (ctx) { ... }' : 'write export function ' + input.export + '(ctx) { ... }') + ')');
    }
    run.fn = fn;
    const ctx = input.ctx;
    ctx.credentials = credentialsView(run, ctx.credentials || {});
    ctx.log = makeLogger(run);
    ctx.utils = utils;
    ctx.markPublic = (value) => { apply(setAdd, run.pub, [value]); return value; };
    if (run.kind === 'pre') run.original = stringify(ctx.request.body);
    if (run.kind === 'post') run.original = stringify(ctx.response.body);
    if (run.kind === 'method') ctx.apiClient = apiClient(run);
    run.ctx = ctx;
  }

  function call(id) {
    const run = apply(mapGet, runs, [id]);
    current = run;
    const fn = run.fn; // called without a receiver, so stacks name the function alone
    return fn(run.ctx);
  }

  function finish(id, value) {
    const run = apply(mapGet, runs, [id]);
    current = null;
    if (value !== null && (typeof value === 'object' || typeof value === 'function') && typeof value.then === 'function') {
      apply(promiseThen, promiseResolve(value), [
        (resolved) => { if (!run.done) complete(run, resolved); },
        (error) => { if (!run.done) fail(run, error, 'rejected'); },
      ]);
      return '{"s":"wait"}';
    }
    complete(run, value);
    return take(run);
  }

  function complete(run, value) {
    if (run.limitError) {
      fail(run, run.limitError, 'limit');
      return;
    }
    try {
      run.result = { s: 'ok', v: shape(run, value) };
    } catch (error) {
      fail(run, error, 'threw');
      return;
    }
    run.done = true;
  }

  // The API's status of an uncaught apiClient error (to a collection, a 404 means "no such
  // record"); null for any other error.
  function apiStatus(error) {
    return error.name === 'ApiError' && typeof error.status === 'number' ? error.status : null;
  }

  function fail(run, error, how) {
    if (run.limitError && error === run.limitError) how = 'limit';
    const isError = error instanceof ErrorCtor || (error !== null && typeof error === 'object' && typeof error.stack === 'string');
    run.result = {
      s: 'err',
      e: isError
        ? { name: StringCtor(error.name), message: StringCtor(error.message), stack: errorStack(error), how, status: apiStatus(error) }
        : { name: 'NonError', message: apply(stringSlice, describe(error), [0, 500]), stack: '', how, nonError: true },
    };
    run.done = true;
  }

  // Containers the prelude serialises have no prototype: a toJSON the code put on
  // Object.prototype or Array.prototype cannot change what Python receives.
  function bare(value) {
    if (value !== null && typeof value === 'object') setPrototypeOf(value, null);
    return value;
  }

  function bareList(values) {
    const out = bare([]);
    for (let i = 0; i < values.length; i++) out[i] = bare(values[i]);
    return out;
  }

  // True when *value* surely serialises to more than *limit* characters (without building the
  // text: a 200 MB string is measured, not copied).
  function tooLarge(value, limit) {
    const pending = [value];
    let size = 0;
    let visited = 0;
    while (pending.length > 0 && visited < 100000) {
      const item = pending.pop();
      visited += 1;
      if (typeof item === 'string') size += item.length;
      else if (item !== null && typeof item === 'object') {
        for (const key of keys(item)) {
          size += key.length;
          apply(push, pending, [item[key]]);
        }
      }
      if (size > limit) return true;
    }
    return false;
  }

  function take(run) {
    apply(mapDelete, runs, [run.id]);
    const out = bare(run.result);
    if (out.s === 'ok' && tooLarge(out.v, run.limits.output)) {
      out.s = 'err';
      out.e = bare({ name: 'OutputLimit', message: 'the result is too large', stack: '', how: 'limit' });
      delete out.v;
    }
    if (out.e) bare(out.e);
    out.logs = bareList(run.logs);
    out.taint = bareList([...run.taint]);
    out.pub = bareList([...run.pub]);
    out.calls = run.calls;
    let text;
    try {
      text = stringify(out);
    } catch (error) {
      text = stringify({ s: 'err', e: { name: 'TypeError', message: 'the result cannot be turned into JSON: ' + error.message, stack: '', how: 'threw' }, logs: run.logs });
    }
    if (text.length > run.limits.output) {
      return stringify({ s: 'err', e: { name: 'OutputLimit', message: 'the result is larger than ' + run.limits.output + ' characters of JSON', stack: '', how: 'limit' }, logs: run.logs });
    }
    return text;
  }

  function shape(run, value) {
    if (run.kind === 'method') return value === undefined ? null : value;
    if (run.kind === 'pre') return preRequestResult(run, value);
    return postResponseResult(run, value);
  }

  function merged(target, changes, what) {
    if (changes === undefined) return target;
    if (changes === null || typeof changes !== 'object' || isArray(changes)) {
      throw new TypeErrorCtor(what + ' must be an object of name: value (null removes one)');
    }
    const out = { ...(target || {}) };
    for (const name of keys(changes)) {
      if (changes[name] === null || changes[name] === undefined) delete out[name];
      else out[name] = changes[name];
    }
    return out;
  }

  function preRequestResult(run, value) {
    const request = run.ctx.request;
    if (value !== undefined && value !== null) {
      if (typeof value !== 'object' || isArray(value)) {
        throw new TypeErrorCtor('a pre-request hook returns nothing, the changes {headers, query, body, method, path, url}, or {response}');
      }
      if (hasOwn(value, 'response')) return { response: responseOf(value.response, 'response') };
      for (const name of keys(value)) {
        if (name === 'headers' || name === 'query') request[name] = merged(request[name], value[name], name);
        else if (name === 'method' || name === 'url' || name === 'path' || name === 'body' || name === 'rawBody') request[name] = value[name];
        else throw new TypeErrorCtor("a pre-request hook cannot change '" + name + "'; it may change method, url, path, query, headers, body or rawBody");
      }
    }
    const changed = stringify(request.body) !== run.original;
    return {
      request: {
        method: request.method, url: request.url, path: request.path, query: request.query,
        headers: request.headers, rawBody: changed ? encodeBody(request.body, request.headers) : request.rawBody,
      },
    };
  }

  function headerValue(headers, name) {
    for (const key of keys(headers || {})) if (key.toLowerCase() === name) return StringCtor(headers[key]);
    return '';
  }

  function encodeBody(body, headers) {
    if (body === undefined || body === null) return null;
    if (typeof body === 'string') return body;
    if (apply(stringIncludes, headerValue(headers, 'content-type'), ['x-www-form-urlencoded'])) return utils.buildQuery(body);
    return stringify(body);
  }

  function responseOf(value, what) {
    if (value === null || typeof value !== 'object' || isArray(value)) {
      throw new TypeErrorCtor(what + ' must be an object {status, headers, body}');
    }
    return { status: value.status === undefined ? 200 : value.status, headers: value.headers || {}, body: value.body === undefined ? null : value.body };
  }

  function postResponseResult(run, value) {
    const response = run.ctx.response;
    if (value !== undefined && value !== null) {
      if (typeof value !== 'object' || isArray(value)) {
        throw new TypeErrorCtor('a post-response hook returns nothing or the changes {status, headers, body}');
      }
      for (const name of keys(value)) {
        if (name === 'headers') response.headers = merged(response.headers, value.headers, 'headers');
        else if (name === 'status' || name === 'body') response[name] = value[name];
        else throw new TypeErrorCtor("a post-response hook cannot change '" + name + "'; it may change status, headers or body");
      }
    }
    const changed = stringify(response.body) !== run.original;
    return { response: { status: response.status, headers: response.headers, body: changed ? response.body : null, bodyChanged: changed } };
  }

  function enqueue(run, item) {
    run.nextItem += 1;
    item.id = run.nextItem;
    return new PromiseCtor((resolve, reject) => {
      apply(mapSet, run.waiting, [item.id, { resolve, reject, item }]);
      apply(push, run.outbox, [item]);
    });
  }

  // The stack of the apiClient call, taken when it is made: the error it may end in points
  // at the line that made the call, not at the prelude.
  function callsiteFrames() {
    const stack = errorStack(new ErrorCtor());
    const at = stack.indexOf('\n');
    return at < 0 ? '' : apply(stringSlice, stack, [at]);
  }

  function apiError(frames, message, status, body) {
    const error = new ErrorCtor(message);
    error.name = 'ApiError';
    defineProperty(error, 'stack', { value: 'ApiError: ' + message + frames, writable: true, configurable: true });
    if (status !== undefined && status !== null) error.status = status;
    if (body !== undefined) error.body = body;
    return error;
  }

  function apiClient(run) {
    function request(options) {
      if (run.done) throw new TypeErrorCtor('ctx.apiClient was used after the method returned');
      if (options === null || typeof options !== 'object') {
        throw new TypeErrorCtor('ctx.apiClient.request takes {method, path or url, query, headers, body}');
      }
      run.calls += 1;
      if (run.calls > run.limits.apiCalls) {
        const error = new RangeErrorCtor('ctx.apiClient was called more than ' + run.limits.apiCalls +
          ' times in one invocation (javascript.max_api_calls)');
        error.limit = true;
        run.limitError = run.limitError || error;
        throw error;
      }
      const frames = callsiteFrames();
      const item = {
        k: 'http',
        r: {
          method: StringCtor(options.method || 'GET').toUpperCase(),
          path: options.path === undefined ? null : StringCtor(options.path),
          url: options.url === undefined ? null : StringCtor(options.url),
          query: options.query || {},
          headers: options.headers || {},
          body: options.body === undefined ? null : options.body,
        },
      };
      return apply(promiseThen, enqueue(run, item), [undefined, (failure) => {
        const message = failure && failure.message ? StringCtor(failure.message) : 'request failed';
        throw apiError(frames, message, failure ? failure.status : undefined, undefined);
      }]);
    }
    function bodyOrThrow(promise) {
      const frames = callsiteFrames();
      return apply(promiseThen, promise, [(response) => {
        if (response.status >= 400) {
          throw apiError(frames, 'the API answered ' + response.status, response.status, response.body);
        }
        return response.body;
      }]);
    }
    const verb = (method, withBody) => (path, second, third) => {
      const options = (withBody ? third : second) || {};
      return bodyOrThrow(request({ ...options, method, path, body: withBody ? second : undefined }));
    };
    return freeze({
      request,
      get: verb('GET', false),
      delete: verb('DELETE', false),
      post: verb('POST', true),
      put: verb('PUT', true),
      patch: verb('PATCH', true),
    });
  }

  function setTimeoutSandboxed(fn, ms, ...args) {
    const run = current;
    if (run === null || run.done) throw new TypeErrorCtor('setTimeout is available while a hook or method runs');
    if (typeof fn !== 'function') throw new TypeErrorCtor('setTimeout needs a function');
    run.timers += 1;
    if (run.timers > run.limits.timers) throw new RangeErrorCtor('more than ' + run.limits.timers + ' timers in one invocation');
    const delay = MathMax(0, MathMin(Number(ms) || 0, 2147483647));
    const item = { k: 'timer', ms: delay, cleared: false };
    apply(promiseThen, enqueue(run, item), [() => {
      if (item.cleared || run.done) return;
      current = run;
      try { fn(...args); } catch (error) { fail(run, error, 'threw in a setTimeout callback'); }
    }]);
    return item.id;
  }

  function clearTimeoutSandboxed(id) {
    const run = current;
    if (run === null) return;
    const waiting = apply(mapGet, run.waiting, [id]);
    if (waiting !== undefined && waiting.item.k === 'timer') waiting.item.cleared = true;
  }

  // (mini-racer declares both with var: they can be assigned, not redefined)
  global.setTimeout = setTimeoutSandboxed;
  global.clearTimeout = clearTimeoutSandboxed;

  function settle(id, itemId, ok, text) {
    const run = apply(mapGet, runs, [id]);
    if (run === undefined) return;
    const waiting = apply(mapGet, run.waiting, [itemId]);
    if (waiting === undefined) return;
    apply(mapDelete, run.waiting, [itemId]);
    current = run;
    const value = parse(text);
    if (ok) waiting.resolve(value);
    else waiting.reject(value);
  }

  function drain(id) {
    const run = apply(mapGet, runs, [id]);
    current = null;
    if (run === undefined) return '{"s":"gone"}';
    if (run.limitError && !run.done) fail(run, run.limitError, 'limit');
    if (run.done) return take(run);
    const out = run.outbox;
    run.outbox = [];
    return stringify({ s: 'wait', out: out.map((item) => (item.k === 'timer' ? { id: item.id, k: 'timer', ms: item.ms } : item)), waiting: run.waiting.size });
  }

  function collect(id) {
    const run = apply(mapGet, runs, [id]);
    current = null;
    if (run === undefined) return '{"s":"gone","logs":[]}';
    apply(mapDelete, runs, [id]);
    return stringify({ s: 'failed', logs: run.logs, taint: [...run.taint], limit: run.limitError ? run.limitError.message : null });
  }

  function cancel(id) {
    apply(mapDelete, runs, [id]);
    current = null;
    return 'ok';
  }

  defineProperty(global, '__cty', {
    value: freeze({ define, begin, call, finish, settle, drain, collect, cancel }),
    writable: false, configurable: false, enumerable: false,
  });
})(globalThis);
'ready';
