// The page-facing API: connect (discovery + version handshake), one method per protocol call,
// events, and reconnection after the agent restarts.

import { diagnose, discover, localNetworkState, PingMemory, readInfo } from "./discovery.mjs";
import { KysoError } from "./errors.mjs";
import { closeError, openSocket, RpcConnection } from "./rpc.mjs";
import { bytesToBase64, base64ToBytes, compareVersions, digestBytes, listFrom, toBytes } from "./util.mjs";

/** Version of this bridge (kept equal to package.json's). */
export const BRIDGE_VERSION = "0.1.0";
/** Protocol version this bridge speaks. */
export const PROTOCOL_VERSION = "1";

/** Defaults; every one can be overridden in the constructor. */
export const DEFAULTS = Object.freeze({
  host: "127.0.0.1",
  ports: [27443, 27444, 27445],
  // Plain-http diagnosis ports (GET /v1/ping, empty 204) that tell "running, certificate not
  // trusted" from "not running"; the agent serves it on 27442 (README "Diagnosis"). [] = off.
  pingPorts: [27442],
  minAgentVersion: "0.1.0",
  callTimeoutMs: 20_000,
  interactionTimeoutMs: 300_000,
  probeTimeoutMs: 3_000,
  reconnect: true,
  reconnectDelaysMs: [500, 1_000, 2_000, 5_000, 10_000],
});

/**
 * The agent notifications a page may subscribe to (docs/protocol.md "Notifications"). Only these
 * reach on(): any other method is dropped, so whatever speaks on the agent's socket cannot fire
 * the bridge's own events ("connected", "disconnected", "status") with made-up payloads.
 */
const AGENT_NOTIFICATIONS = new Set(["tokens.changed", "sign.progress"]);

/** What a call or a connect attempt ends with once the page called close(). */
function closedByPage(origin) {
  return closeError({ code: 1000, reason: "closed by page" }, origin);
}

/** The page origin's localStorage, or null where reading it throws (sandboxed frames). */
function defaultStorage() {
  try {
    return globalThis.localStorage || null;
  } catch {
    return null;
  }
}

function usage(detail) {
  return new KysoError("BRIDGE_USAGE", { details: { detail } });
}

async function base64Of(value, what) {
  const bytes = await toBytes(value);
  if (!bytes) throw usage(`${what} must be bytes, a Blob or a string`);
  return bytesToBase64(bytes);
}

async function base64Digest(value) {
  const bytes = await digestBytes(value);
  if (!bytes || !bytes.length) throw usage("digest must be bytes or a hex string");
  return bytesToBase64(bytes);
}

function withCertificate(params, certificate, certificateFilter) {
  if (certificate) params.certificate = certificate;
  if (certificateFilter !== undefined) params.certificate_filter = filterParams(certificateFilter);
  return params;
}

/**
 * certificateFilter {mst?, issuer?, thumbprints?, validOnly?} → the agent's certificate_filter.
 * A preference, not a permission: the matching certificate is preselected (the picker is
 * skipped when exactly one usable certificate matches) and the consent still shows it.
 */
function filterParams(filter) {
  if (!filter || typeof filter !== "object") throw usage("certificateFilter must be an object");
  const out = {};
  if (filter.mst !== undefined) out.mst = String(filter.mst);
  if (filter.issuer !== undefined) out.issuer = String(filter.issuer);
  if (filter.thumbprints !== undefined) {
    if (!Array.isArray(filter.thumbprints)) throw usage("certificateFilter.thumbprints must be an array");
    out.thumbprints = filter.thumbprints.map(String);
  }
  if (filter.validOnly !== undefined) out.valid_only = Boolean(filter.validOnly);
  return out;
}

/** The sign.pdf params shared by signPdf and batch items (placement, field, reason...). */
async function pdfParams(document, { label, placement, field, reason, location, certify, timestamp } = {}) {
  const params = { document: await base64Of(document, "document") };
  if (label !== undefined) params.label = String(label);
  if (placement !== undefined) {
    const { page, box } = placement || {};
    if (!Number.isInteger(page) || !Array.isArray(box) || box.length !== 4) {
      throw usage("placement is {page: 1.., box: [x1, y1, x2, y2]} in points");
    }
    params.placement = { page, box: box.map(Number) };
  }
  if (field !== undefined) params.field = String(field);
  if (reason !== undefined) params.reason = String(reason);
  if (location !== undefined) params.location = String(location);
  if (certify !== undefined) params.certify = Boolean(certify);
  if (timestamp !== undefined) params.timestamp = Boolean(timestamp);
  return params;
}

/** Convert one batch item from the page's form (bytes) into the protocol's (base64). */
async function batchItem(item, index) {
  if (!item || typeof item !== "object") throw usage(`batch item ${index} must be an object`);
  const converted = await batchItemBody(item, index);
  if (item.label !== undefined && converted.label === undefined) converted.label = String(item.label);
  return converted;
}

async function batchItemBody(item, index) {
  switch (item.kind) {
    case "xml": {
      const out = { kind: "xml", profile: item.profile || "bhxh", document: await base64Of(item.document, "document") };
      if (item.allowEcdsa) out.allow_ecdsa = true;
      return out;
    }
    case "pdf":
      return { kind: "pdf", ...(await pdfParams(item.document, item)) };
    case "cms": {
      const out = { kind: "cms", detached: item.detached !== false };
      if (item.digest !== undefined) out.digest = await base64Digest(item.digest);
      else out.data = await base64Of(item.data, "data");
      return out;
    }
    case "hash": {
      const out = { kind: "hash", digest: await base64Digest(item.digest) };
      if (item.algorithm) out.algorithm = item.algorithm;
      return out;
    }
    default:
      throw usage(`batch item ${index} has unknown kind ${JSON.stringify(item.kind)}`);
  }
}

/** A connection to the local Kyso agent, shared by everything on the page. */
export class KysoBridge {
  /** @param {Partial<typeof DEFAULTS> & {fetch?: Function, WebSocket?: Function, permissions?: object, origin?: string}} [options] */
  constructor(options) {
    options = options || {}; // new KysoBridge(undefined | null) = the defaults
    this.options = { ...DEFAULTS, ...options };
    for (const key of ["ports", "pingPorts"]) {
      const value = this.options[key];
      const ok = Array.isArray(value) && value.every((p) => Number.isInteger(p) && p > 0 && p < 65536);
      if (!ok || (key === "ports" && !value.length)) {
        throw usage(`options.${key} must be a list of TCP port numbers`);
      }
    }
    const g = globalThis;
    this._fetch = options.fetch || (g.fetch ? g.fetch.bind(g) : null);
    this._WebSocket = options.WebSocket || g.WebSocket;
    this._permissions = options.permissions || (g.navigator ? g.navigator.permissions : undefined);
    const o = this.options;
    // Whether the ping answered when the agent was last found, so that a page load with Kyso
    // stopped costs one failed request, not one per port (README "What the console shows").
    // Option `storage`: default the page's localStorage; null remembers nothing.
    this._pingMemory = new PingMemory(
      o.storage === undefined ? defaultStorage() : o.storage,
      `kyso-bridge.ping:${o.host}:${o.pingPorts.join(",")}`,
    );
    this.origin = options.origin || (g.location ? g.location.origin : "");
    this._listeners = new Map();
    this._conn = null;
    this._connecting = null;
    // The connect attempt in flight ({closed, socket, abort}); close() ends it.
    this._attempt = null;
    this._info = null;
    this._port = null;
    this._closedByPage = false;
    this._reconnectTimer = null;
    this._reconnectAttempt = 0;
  }

  /** The agent's info from the last successful handshake (null before). */
  get agentInfo() {
    return this._info;
  }

  /** Whether a connection is open now. */
  get connected() {
    return Boolean(this._conn && this._conn.isOpen);
  }

  /**
   * Subscribe to an event: the bridge's own "connected" (info), "disconnected" (KysoError),
   * "status" ({state}); and the agent's notifications "tokens.changed" ({event, token}) and
   * "sign.progress" ({request_id, done, total}). Other agent notifications are not passed on.
   * Returns a function that unsubscribes.
   */
  on(event, handler) {
    if (!this._listeners.has(event)) this._listeners.set(event, new Set());
    this._listeners.get(event).add(handler);
    return () => this.off(event, handler);
  }

  /** Unsubscribe a handler added with on(). */
  off(event, handler) {
    const set = this._listeners.get(event);
    if (set) set.delete(handler);
  }

  _emit(event, payload) {
    const set = this._listeners.get(event);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        handler(payload);
      } catch {
        // A page's handler must not break the bridge.
      }
    }
  }

  /**
   * Find the agent, open the WebSocket, check its version. Resolves with agent.info; rejects
   * only with a KysoError (CONNECTION_LOST, closeCode 1000, when close() ends the attempt).
   */
  connect() {
    if (this.connected) return Promise.resolve(this._info);
    if (!this._connecting) {
      this._closedByPage = false;
      const attempt = { closed: false, sockets: new Set(), abort: null };
      const aborted = new Promise((_, reject) => {
        attempt.abort = reject;
      });
      this._attempt = attempt;
      // close() rejects `aborted` at once; the abandoned _connect then stops at its next step
      // and closes whatever socket it opened (its own rejection is absorbed by the race).
      this._connecting = Promise.race([this._connect(attempt), aborted])
        .catch((error) => {
          throw KysoError.wrap(error);
        })
        .finally(() => {
          if (this._attempt === attempt) {
            this._attempt = null;
            this._connecting = null;
          }
        });
    }
    return this._connecting;
  }

  async _connect(attempt) {
    // Called after every await: once the page closed the bridge this attempt must neither
    // announce nor keep a connection.
    const stillWanted = () => {
      if (attempt.closed) throw closedByPage(this.origin);
    };
    const o = this.options;
    if (!this._fetch || !this._WebSocket) {
      throw usage("this environment has no fetch/WebSocket; pass them in the options");
    }
    // While the browser's Local Network Access prompt is open, requests wait for the user's
    // answer: probes then get the interaction timeout, not the short probe timeout. Denied:
    // every request would fail, so none is sent (each would be a console error).
    const lna = await localNetworkState(this._permissions);
    stillWanted();
    if (lna === "denied") throw await this._unreachable(null, attempt);
    this._emit("status", { state: lna === "prompt" ? "permission" : "connecting" });
    const probeTimeout = lna === "prompt" ? o.interactionTimeoutMs : o.probeTimeoutMs;
    // The WebSocket is the probe: the first port where it opens is the agent (the agent may
    // hold the upgrade while it asks the user to pair this site: the interaction timeout).
    // Close 1006 (nothing there, untrusted certificate) moves on to the next port, and so does
    // a port silent past the probe timeout (its attempt kept alongside); any other failure
    // (4403 site refused, timeout) is the answer.
    let found;
    try {
      found = await this._discoverSocket(attempt, probeTimeout, stillWanted);
    } finally {
      // The ports still opening lost the race (or discovery failed): close them now, not
      // when their interaction timeout ends.
      for (const socket of attempt.sockets) closeQuietly(socket);
      attempt.sockets.clear();
    }
    if (attempt.closed && found.result) closeQuietly(found.result);
    stillWanted();
    if (found.port === null) throw await this._unreachable(found.ping, attempt);
    const ws = found.result;
    const conn = new RpcConnection(ws, {
      origin: this.origin,
      // Agent notifications and the bridge's own events share on(): only the protocol's
      // notification names pass, never one named like a bridge event.
      onNotification: (method, params) => {
        if (AGENT_NOTIFICATIONS.has(method)) this._emit(method, params);
      },
      onClose: (event, error) => this._onClose(conn, event, error),
    });
    // The version check runs on the WebSocket: reading /v1/info over CORS before it would make
    // the browser log a refusal for every origin the agent does not allow yet.
    let info;
    try {
      info = await conn.call("agent.info", {}, { timeoutMs: o.callTimeoutMs });
      stillWanted();
      this._checkInfo(info);
    } catch (error) {
      conn.close();
      throw error;
    }
    this._conn = conn;
    this._info = info;
    this._port = found.port;
    this._reconnectAttempt = 0;
    this._emit("status", { state: "connected", port: found.port });
    this._emit("connected", info);
    return info;
  }

  /** The error for "not found": `ping` is what discovery learnt (null: no ping was sent). */
  async _unreachable(ping, attempt) {
    const o = this.options;
    const error = await diagnose({ permissions: this._permissions, ports: o.ports, ping });
    if (attempt.closed) return closedByPage(this.origin);
    this._emit("status", { state: "unreachable", error });
    return error;
  }

  _checkInfo(info) {
    const o = this.options;
    if (!info || typeof info !== "object" || (info.name && info.name !== "Kyso")) {
      throw new KysoError("PROTOCOL_UNSUPPORTED", { details: { name: info && info.name } });
    }
    const protocols = Array.isArray(info.protocol) ? info.protocol.map(String) : [];
    if (!protocols.includes(PROTOCOL_VERSION)) {
      // An agent older than protocol 1 has no list at all: that is "too old", not "foreign".
      throw new KysoError("AGENT_TOO_OLD", {
        details: { version: info.version || "?", minimum: o.minAgentVersion },
      });
    }
    if (info.version && compareVersions(info.version, o.minAgentVersion) < 0) {
      throw new KysoError("AGENT_TOO_OLD", { details: { version: info.version, minimum: o.minAgentVersion } });
    }
  }

  _onClose(conn, event, error) {
    if (this._conn !== conn) return;
    this._conn = null;
    this._emit("status", { state: "disconnected", error });
    this._emit("disconnected", error);
    const refused = error.code === "ORIGIN_NOT_ALLOWED";
    if (this.options.reconnect && !this._closedByPage && !refused) this._scheduleReconnect();
  }

  _scheduleReconnect() {
    const delays = this.options.reconnectDelaysMs;
    const delay = delays[Math.min(this._reconnectAttempt, delays.length - 1)];
    this._reconnectAttempt += 1;
    clearTimeout(this._reconnectTimer);
    this._reconnectTimer = setTimeout(() => this._backgroundReconnect(), delay);
  }

  /** Discovery over WebSockets for one connect() attempt: the first port whose socket opens. */
  _discoverSocket(attempt, probeTimeout, stillWanted) {
    const o = this.options;
    return discover({
      fetch: this._fetch,
      host: o.host,
      ports: o.ports,
      pingPorts: o.pingPorts,
      timeoutMs: probeTimeout,
      memory: this._pingMemory,
      // A port silent past the probe timeout keeps its attempt, and the next port is tried
      // alongside it (a squatter or a hung program on an earlier port; see firstOpen).
      hedgeMs: probeTimeout,
      discard: closeQuietly,
      tryPort: async (port) => {
        stillWanted();
        this._emit("status", { state: "opening", port });
        stillWanted(); // a status listener may have closed the bridge
        const url = `wss://${o.host}:${port}/v1/ws`;
        let opening = null;
        let ws;
        try {
          ws = await openSocket({
            WebSocket: this._WebSocket,
            url,
            timeoutMs: o.interactionTimeoutMs,
            origin: this.origin,
            // close() closes the sockets still opening, so the agent withdraws its pairing question.
            onCreated: (created) => {
              opening = created;
              attempt.sockets.add(created);
            },
          });
        } catch (error) {
          stillWanted();
          if (error.code === "AGENT_UNREACHABLE") return null;
          throw error;
        } finally {
          attempt.sockets.delete(opening);
        }
        if (attempt.closed) closeQuietly(ws);
        stillWanted();
        return ws;
      },
    });
  }

  async _backgroundReconnect() {
    this._reconnectTimer = null;
    if (this._closedByPage || this.connected || this._connecting) return;
    // Only reconnect silently to an agent that already lets this origin read /v1/info over CORS
    // (already allowed). No WebSocket here: an agent that would ask the user to pair again waits
    // for the next real call (a pairing question must never pop up without the user doing
    // something), and the bridge stops looking: each further CORS refusal would be one more
    // console error.
    const o = this.options;
    const found = await discover({
      fetch: this._fetch,
      host: o.host,
      ports: o.ports,
      pingPorts: o.pingPorts,
      timeoutMs: o.probeTimeoutMs,
      memory: this._pingMemory,
      background: true,
      tryPort: (port) => readInfo({ fetch: this._fetch, host: o.host, port, timeoutMs: o.probeTimeoutMs }),
    });
    if (this._closedByPage || this.connected || this._connecting) return;
    if (found.port === null) {
      // Ping answered but no port let us read: Kyso runs and would ask to pair (or this browser
      // does not trust it); wait for the user's next call. Otherwise it is still away.
      if (!found.ping) this._scheduleReconnect();
      return;
    }
    this.connect().catch(() => {
      if (!this._closedByPage) this._scheduleReconnect();
    });
  }

  /** Close the connection and stop reconnecting. */
  close() {
    this._closedByPage = true;
    clearTimeout(this._reconnectTimer);
    this._reconnectTimer = null;
    const attempt = this._attempt;
    if (attempt) {
      this._attempt = null;
      this._connecting = null;
      attempt.closed = true;
      for (const socket of attempt.sockets) closeQuietly(socket);
      attempt.abort(closedByPage(this.origin));
    }
    if (this._conn) {
      const conn = this._conn;
      this._conn = null;
      conn.close();
    }
  }

  async _call(method, params, { interactive = false, timeoutMs, onProgress } = {}) {
    try {
      await this.connect();
      // Another part of the page may have called close() while connect() was settling.
      const conn = this._conn;
      if (!conn) throw closedByPage(this.origin);
      const o = this.options;
      const limit = timeoutMs ?? (interactive ? o.interactionTimeoutMs : o.callTimeoutMs);
      return await conn.call(method, params, { timeoutMs: limit, onProgress });
    } catch (error) {
      // Every public method rejects with a KysoError only, whatever went wrong.
      throw KysoError.wrap(error);
    }
  }

  /** agent.info: name, version, protocol versions, port, whether a scripted prompter is on. */
  info(options = {}) {
    return this._call("agent.info", {}, options);
  }

  /** tokens.list: the plugged-in tokens. */
  async listTokens(options = {}) {
    return listFrom(await this._call("tokens.list", {}, options), "tokens");
  }

  /** certificates.list: certificates on the plugged-in tokens (with thumbprint, MST/CCCD...). */
  async listCertificates(options = {}) {
    return listFrom(await this._call("certificates.list", {}, options), "certificates");
  }

  /**
   * auth.challenge: sign the portal's nonce (Web eID token format 1.0, bound to this origin by
   * the agent). The user picks a certificate (unless `certificate` names one), confirms and
   * types the PIN in Kyso's window. Resolves with the token object to send to the server.
   */
  async authChallenge(nonce, { certificate, certificateFilter, timeoutMs } = {}) {
    if (typeof nonce !== "string" || nonce.length < 16) {
      throw usage("nonce must be the server's challenge string (at least 16 characters)");
    }
    return this._call("auth.challenge", withCertificate({ nonce }, certificate, certificateFilter), { interactive: true, timeoutMs });
  }

  /**
   * sign.xml: sign an XML document (bytes, Blob or text) with a profile ("bhxh", "tax"...).
   * Resolves with {document: base64 of the signed XML, bytes(): Uint8Array, ...agent fields}.
   */
  async signXml(document, { profile = "bhxh", label, allowEcdsa, certificate, certificateFilter, timeoutMs } = {}) {
    const params = { profile, document: await base64Of(document, "document") };
    if (label !== undefined) params.label = String(label);
    if (allowEcdsa) params.allow_ecdsa = true;
    const result = await this._call("sign.xml", withCertificate(params, certificate, certificateFilter), { interactive: true, timeoutMs });
    return signedResult(result, "document");
  }

  /**
   * sign.pdf: a PAdES signature, invisible or stamped (`placement: {page, box}` in points from
   * the bottom-left, or an existing empty `field`). Resolves with {document: base64 PDF, level
   * ("PAdES-B-B" | "PAdES-B-T"), field, visible, thumbprint, bytes(): Uint8Array}.
   */
  async signPdf(document, { certificate, certificateFilter, timeoutMs, ...options } = {}) {
    const params = withCertificate(await pdfParams(document, options), certificate, certificateFilter);
    const result = await this._call("sign.pdf", params, { interactive: true, timeoutMs });
    return signedResult(result, "document");
  }

  /**
   * sign.cms: a CMS/PKCS#7 SignedData over `data` (or over a precomputed `digest`), detached
   * by default. Resolves with {cms: base64 DER, thumbprint, bytes(): Uint8Array}.
   */
  async signCms({ data, digest, detached = true, hash, certificate, certificateFilter, timeoutMs } = {}) {
    const params = { detached };
    if (digest !== undefined) params.digest = await base64Digest(digest);
    else params.data = await base64Of(data, "data");
    if (hash) params.hash = hash;
    const result = await this._call("sign.cms", withCertificate(params, certificate, certificateFilter), { interactive: true, timeoutMs });
    return signedResult(result, "cms");
  }

  /**
   * sign.hash: a raw signature over a digest (bytes or hex).
   * Resolves with {signature: base64, bytes(): Uint8Array, ...agent fields (algorithm, certificate)}.
   */
  async signHash(digest, { algorithm, certificate, certificateFilter, timeoutMs } = {}) {
    const params = { digest: await base64Digest(digest) };
    if (algorithm) params.algorithm = algorithm;
    const result = await this._call("sign.hash", withCertificate(params, certificate, certificateFilter), { interactive: true, timeoutMs });
    return signedResult(result, "signature");
  }

  /**
   * sign.batch: several documents under one consent and one PIN entry.
   * `items`: [{kind: "xml", document, profile?} | {kind: "cms", data | digest, detached?} |
   * {kind: "hash", digest, algorithm?} | {kind: "pdf", document, placement?, field?}], each with
   * an optional `label` shown in the consent. `onProgress({done, total})` follows the agent.
   * Resolves with {results: [{index, ok, result?, error?: KysoError}], signed, failed, thumbprint}.
   */
  async signBatch(items, { stopOnError = false, certificate, certificateFilter, onProgress, timeoutMs } = {}) {
    if (!Array.isArray(items) || !items.length) throw usage("items must be a non-empty array");
    const converted = await Promise.all(items.map(batchItem));
    const params = withCertificate({ items: converted, stop_on_error: Boolean(stopOnError) }, certificate, certificateFilter);
    const result = await this._call("sign.batch", params, { interactive: true, timeoutMs, onProgress });
    const results = listFrom(result, "results").map((entry) =>
      entry && entry.error ? { ...entry, ok: false, error: KysoError.fromRpc(entry.error) } : entry,
    );
    return { ...result, results };
  }
}

/** Close a socket the bridge no longer wants (it may be closing already). */
function closeQuietly(ws) {
  try {
    ws.close(1000, "closed by page");
  } catch {
    // already closed
  }
}

/** Normalise a signing result: keep the agent's fields, name the base64 field, add bytes(). */
function signedResult(result, field) {
  const base = typeof result === "string" ? { [field]: result } : { ...result };
  if (typeof base[field] !== "string") {
    const alt = ["document", "cms", "signature", "result"].find((k) => typeof base[k] === "string");
    if (alt) base[field] = base[alt];
  }
  const b64 = base[field];
  base.bytes = () => base64ToBytes(b64);
  return base;
}
