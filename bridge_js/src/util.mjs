// Small pure helpers: versions, base64, result shapes. No I/O, so node tests cover them fully.

/** Compare dotted versions numerically ("0.10.0" > "0.9.3"); a pre-release tag sorts first. */
export function compareVersions(a, b) {
  const parse = (v) => {
    const [core, pre] = String(v).trim().replace(/^v/, "").split("-", 2);
    return { parts: core.split(".").map((p) => Number.parseInt(p, 10) || 0), pre: pre || "" };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < Math.max(x.parts.length, y.parts.length); i++) {
    const d = (x.parts[i] || 0) - (y.parts[i] || 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  if (x.pre === y.pre) return 0;
  if (!x.pre) return 1;
  if (!y.pre) return -1;
  return x.pre < y.pre ? -1 : 1;
}

const CHUNK = 0x8000;

/** Bytes to base64 (chunked: String.fromCharCode on a huge array overflows the stack). */
export function bytesToBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}

/** Base64 (standard alphabet; url-safe accepted) to bytes. */
export function base64ToBytes(text) {
  const binary = atob(String(text).replace(/-/g, "+").replace(/_/g, "/").replace(/\s+/g, ""));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Hex to bytes; null when the text is not hex of even length. */
export function hexToBytes(text) {
  const clean = String(text).trim();
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(clean)) return null;
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Turn what a page hands us into bytes: Uint8Array, any ArrayBuffer view, ArrayBuffer, Blob
 * (async) or a string (encoded as UTF-8 — pass XML text as it is).
 */
export async function toBytes(value) {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (typeof value === "string") return new TextEncoder().encode(value);
  if (value && typeof value.arrayBuffer === "function") return new Uint8Array(await value.arrayBuffer());
  return null;
}

/** A digest given as bytes or as a hex string. */
export async function digestBytes(value) {
  if (typeof value === "string") return hexToBytes(value);
  return toBytes(value);
}

/** The list inside a result: the agent may answer `[...]` or `{<key>: [...]}`. */
export function listFrom(result, key) {
  if (Array.isArray(result)) return result;
  if (result && Array.isArray(result[key])) return result[key];
  return [];
}

/** Fill `{name}` placeholders (unknown ones are kept). */
export function fillTemplate(text, details) {
  return String(text).replace(/\{(\w+)\}/g, (whole, key) =>
    details && details[key] !== undefined && details[key] !== null ? String(details[key]) : whole,
  );
}
