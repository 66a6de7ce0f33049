// A fake browser environment (fetch, WebSocket, Permissions) around fake agents, so the bridge's
// logic runs in node without a network. Each fake agent answers JSON-RPC like the real one.

const PAGE_ORIGIN = "https://portal.example";

/** A fake agent on one port. `handlers[method](params, socket, id)` returns a result or throws {code, data}. */
export class FakeAgent {
  constructor({ version = "0.1.0", protocol = ["1"], trusted = true, refuseOrigin = false, corsInfo = true } = {}) {
    this.version = version;
    this.protocol = protocol;
    this.trusted = trusted;
    this.refuseOrigin = refuseOrigin;
    this.corsInfo = corsInfo;
    this.sockets = new Set();
    this.received = [];
    this.handlers = {
      "agent.info": () => this.info(),
      "tokens.list": () => ({ tokens: [{ label: "KYSO DEMO 1", serial: "1" }] }),
      "certificates.list": () => ({ certificates: [{ thumbprint: "ab".repeat(32) }] }),
    };
  }

  info() {
    return { name: "Kyso", version: this.version, protocol: this.protocol, port: this.port, scripted_prompter: false };
  }

  /** Send a notification to every connected socket. */
  notify(method, params) {
    for (const ws of this.sockets) ws._deliver({ jsonrpc: "2.0", method, params });
  }

  /** Drop every connection the way a crashing agent does (close 1006). */
  dropAll() {
    for (const ws of [...this.sockets]) ws._serverClose(1006, "");
  }

  async _handle(ws, raw) {
    const msg = JSON.parse(raw);
    this.received.push(msg);
    const handler = this.handlers[msg.method];
    if (!handler) {
      ws._deliver({ jsonrpc: "2.0", id: msg.id, error: { code: -32601, message: "no method", data: { code: "METHOD_NOT_FOUND" } } });
      return;
    }
    try {
      const result = await handler(msg.params, ws, msg.id);
      if (result === undefined) return; // the handler answers later (or never)
      ws._deliver({ jsonrpc: "2.0", id: msg.id, result });
    } catch (error) {
      ws._deliver({ jsonrpc: "2.0", id: msg.id, error });
    }
  }
}

/** localStorage as a page has it (per origin, strings only). */
export class MemoryStorage {
  constructor() {
    this.items = new Map();
  }

  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }

  setItem(key, value) {
    this.items.set(key, String(value));
  }

  removeItem(key) {
    this.items.delete(key);
  }
}

/** The environment: ports → agents, an optional ping port, the LNA permission state. */
export class FakeEnv {
  constructor({ lna = "granted", permissionNames = ["loopback-network", "local-network-access"] } = {}) {
    this.agents = new Map();
    this.pingPorts = new Set();
    // Ports where something accepts the connection and then never answers (another user's
    // listener, a hung program): the WebSocket neither opens nor closes.
    this.silentPorts = new Set();
    // What GET /v1/port on a ping port answers over CORS: a port number, or null for a CORS
    // refusal (the page's origin is not in the agent's settings, or an older agent).
    this.portAnswer = null;
    this.lna = lna;
    this.permissionNames = permissionNames;
    this.opened = [];
    this.fetched = [];
    this.failed = []; // requests that failed: each is a red console line in a real browser
    this.storage = new MemoryStorage();
    const env = this;

    this.fetch = async (url, init = {}) => {
      env.fetched.push({ url, mode: init.mode });
      try {
        return await answer(url, init);
      } catch (error) {
        env.failed.push(url);
        throw error;
      }
    };

    const answer = async (url, init) => {
      const u = new URL(url);
      const port = Number(u.port);
      if (env.lna === "denied") throw new TypeError("Failed to fetch");
      if (u.protocol === "http:") {
        if (u.pathname === "/v1/ping" && env.pingPorts.has(port)) return { ok: false, status: 0, type: "opaque" };
        if (u.pathname === "/v1/port" && env.pingPorts.has(port) && init.mode === "cors" && env.portAnswer !== null) {
          return { ok: true, status: 200, type: "cors", json: async () => ({ port: env.portAnswer }) };
        }
        throw new TypeError("Failed to fetch");
      }
      const agent = env.agents.get(port);
      if (!agent || !agent.trusted) throw new TypeError("Failed to fetch");
      if (init.mode === "no-cors") {
        return { ok: false, status: 0, type: "opaque", json: async () => { throw new SyntaxError("opaque"); } };
      }
      if (!agent.corsInfo) throw new TypeError("Failed to fetch"); // CORS refusal
      return { ok: true, status: 200, type: "cors", json: async () => agent.info() };
    };

    this.permissions = {
      query: async ({ name }) => {
        if (!env.permissionNames.includes(name)) throw new TypeError(`unknown permission ${name}`);
        return { state: env.lna };
      },
    };

    class FakeWebSocket {
      constructor(url) {
        this.url = url;
        this.readyState = 0;
        this.sent = [];
        env.opened.push(this);
        const port = Number(new URL(url).port);
        queueMicrotask(() => {
          if (env.silentPorts.has(port)) return;
          const agent = env.agents.get(port);
          if (env.lna === "denied" || !agent || !agent.trusted) {
            env.failed.push(url);
            this.readyState = 3;
            if (this.onerror) this.onerror({});
            if (this.onclose) this.onclose({ code: 1006, reason: "", wasClean: false });
            return;
          }
          this.agent = agent;
          agent.sockets.add(this);
          this.readyState = 1;
          if (this.onopen) this.onopen({});
          if (agent.refuseOrigin) this._serverClose(4403, "ORIGIN_NOT_ALLOWED");
        });
      }

      send(data) {
        if (this.readyState !== 1) throw new Error("not open");
        this.sent.push(data);
        const agent = this.agent;
        queueMicrotask(() => agent._handle(this, data));
      }

      close(code = 1000, reason = "") {
        if (this.readyState === 3) return;
        this._serverClose(code, reason);
      }

      _deliver(message) {
        if (this.readyState !== 1) return;
        queueMicrotask(() => this.onmessage && this.onmessage({ data: JSON.stringify(message) }));
      }

      _serverClose(code, reason) {
        if (this.readyState === 3) return;
        this.readyState = 3;
        if (this.agent) this.agent.sockets.delete(this);
        queueMicrotask(() => this.onclose && this.onclose({ code, reason, wasClean: code !== 1006 }));
      }
    }
    this.WebSocket = FakeWebSocket;
  }

  /** Put an agent on a port. */
  add(port, agent = new FakeAgent()) {
    agent.port = port;
    this.agents.set(port, agent);
    return agent;
  }

  /** Bridge options wired to this environment. */
  options(extra = {}) {
    return {
      fetch: this.fetch,
      WebSocket: this.WebSocket,
      permissions: this.permissions,
      storage: this.storage,
      origin: PAGE_ORIGIN,
      reconnectDelaysMs: [5, 10, 20],
      ...extra,
    };
  }
}

export { PAGE_ORIGIN };
