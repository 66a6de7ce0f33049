// JSON-RPC 2.0 over one WebSocket: request ids, per-call timers, notifications, and turning a
// dropped connection into a clear error for every call still waiting.

import { CLOSE_ORIGIN_NOT_ALLOWED, CLOSE_TOO_MANY_CONNECTIONS, KysoError } from "./errors.mjs";

const OPEN = 1;

/** Error for a WebSocket close, by its code. */
export function closeError(event, origin) {
  if (event && event.code === CLOSE_ORIGIN_NOT_ALLOWED) {
    return new KysoError("ORIGIN_NOT_ALLOWED", { details: { origin, reason: event.reason || "" } });
  }
  if (event && event.code === CLOSE_TOO_MANY_CONNECTIONS) {
    return new KysoError("TOO_MANY_CONNECTIONS");
  }
  return new KysoError("CONNECTION_LOST", { details: { closeCode: event ? event.code : 0 } });
}

/**
 * Open a WebSocket and wait until it is open. The agent may hold the upgrade while it asks the
 * user to pair this origin, so the wait is an interaction timeout, not a call timeout.
 * `onCreated(ws)` gets the socket at once, so its owner can close it while it is still opening.
 */
export function openSocket({ WebSocket: WS, url, timeoutMs, origin, onCreated }) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const ws = new WS(url);
    if (onCreated) onCreated(ws);
    const finish = (fn, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.onopen = ws.onerror = null;
      // Keep the close event if it comes before the connection object takes over the socket.
      ws.onclose = (event) => {
        ws.kysoCloseEvent = event;
      };
      fn(value);
    };
    const timer = setTimeout(() => {
      try {
        ws.close();
      } catch {
        // already closing
      }
      finish(reject, new KysoError("TIMEOUT", { details: { seconds: Math.round(timeoutMs / 1000) } }));
    }, timeoutMs);
    ws.onopen = () => finish(resolve, ws);
    ws.onerror = () => {
      // The close event that follows carries the code; wait for it.
    };
    ws.onclose = (event) =>
      finish(
        reject,
        event.code === 1006
          ? new KysoError("AGENT_UNREACHABLE", { details: { closeCode: event.code } })
          : closeError(event, origin),
      );
  });
}

/** One open connection to the agent. */
export class RpcConnection {
  /**
   * @param {WebSocket} ws an open socket
   * @param {{origin: string, onNotification: Function, onClose: Function}} hooks
   */
  constructor(ws, { origin, onNotification, onClose }) {
    this.ws = ws;
    this.origin = origin;
    this.nextId = 1;
    this.pending = new Map();
    this.closed = false;
    this.onNotification = onNotification;
    this.onClose = onClose;
    ws.onmessage = (event) => this._receive(event.data);
    ws.onclose = (event) => this._closed(event);
    ws.onerror = () => {};
    this.closeError = null;
    if (ws.kysoCloseEvent) {
      // Closed between "open" and now (e.g. refused with 4403): nothing is pending, just remember why.
      this.closed = true;
      this.closeError = closeError(ws.kysoCloseEvent, origin);
    }
  }

  /** Whether calls can be sent now. */
  get isOpen() {
    return !this.closed && this.ws.readyState === OPEN;
  }

  /**
   * Send one request; resolve with its result or reject with a KysoError.
   * @param {string} method
   * @param {object} params
   * @param {{timeoutMs: number, onProgress?: Function}} options
   */
  call(method, params, { timeoutMs, onProgress }) {
    if (this.closed) {
      return Promise.reject(this.closeError || new KysoError("CONNECTION_LOST", { details: { method } }));
    }
    const id = this.nextId++;
    const closing = this.ws.readyState !== OPEN; // its close event, with the reason, is on its way
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        // The protocol has no way to withdraw a request: the agent may still finish it (the user
        // may still be looking at Kyso's window), and its late answer is then dropped.
        const details = { seconds: Math.round(timeoutMs / 1000), method, agentMayStillFinish: true };
        reject(new KysoError("TIMEOUT", { details }));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, onProgress, method });
      if (closing) return;
      try {
        this.ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params: params || {} }));
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new KysoError("CONNECTION_LOST", { details: { method }, cause: error }));
      }
    });
  }

  /** Close on purpose (no reconnection is triggered by the owner for this). */
  close() {
    if (this.closed) return;
    try {
      this.ws.close(1000, "bye");
    } catch {
      // already closed
    }
    this._closed({ code: 1000, reason: "closed by page", wasClean: true });
  }

  _receive(data) {
    let message;
    try {
      message = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data));
    } catch {
      return; // Not ours to crash on: the agent only sends JSON.
    }
    if (!message || typeof message !== "object") return;
    if (message.id === undefined || message.id === null) {
      if (typeof message.method === "string") this._notify(message.method, message.params || {});
      return;
    }
    const entry = this.pending.get(message.id);
    if (!entry) return; // A late answer after a timeout (that TIMEOUT said it may come).
    this.pending.delete(message.id);
    clearTimeout(entry.timer);
    if (message.error) entry.reject(KysoError.fromRpc(message.error));
    else entry.resolve(message.result);
  }

  _notify(method, params) {
    if (method === "sign.progress") {
      const entry = this.pending.get(params.request_id) || this.pending.get(Number(params.request_id));
      if (entry && entry.onProgress) {
        try {
          entry.onProgress({ done: params.done, total: params.total });
        } catch {
          // A page's progress callback must not break the connection.
        }
      }
    }
    this.onNotification(method, params);
  }

  _closed(event) {
    if (this.closed) return;
    this.closed = true;
    const error = closeError(event, this.origin);
    this.closeError = error;
    for (const entry of this.pending.values()) {
      clearTimeout(entry.timer);
      entry.reject(error);
    }
    this.pending.clear();
    this.onClose(event, error);
  }
}
