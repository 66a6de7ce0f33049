// Finding the agent with as few failed requests as possible, and when it cannot be found,
// telling the user the most likely reason.
//
// Every request that fails is a red line in the browser's console or network panel, which
// integrators take for a bug, so discovery sends only requests that succeed when Kyso runs
// (README "What the console shows"):
//  1. the plain-http ping, GET http://127.0.0.1:27442/v1/ping in no-cors mode (an empty 204);
//  2. the WebSocket itself, ONE PORT AT A TIME: the port where this browser last found the agent
//     (remembered per page origin), then the agent's ports in order; the first that opens is the
//     connection. (An https probe of /v1/info cannot be clean: read over CORS it is refused for
//     a site the agent has not allowed yet, and read in no-cors mode its JSON answer is cut off
//     by the browser's Opaque Response Blocking.)
//  3. only when the ping answered and no port worked (a terminal server, where every user's
//     agent has its own port of a `port_range`): GET /v1/port on the ping port over CORS, which
//     answers the port of this OS user's agent to origins the agent's settings allow; then that
//     port. The answer is a hint, never trusted: the WebSocket's TLS decides.
// What a page can observe is limited: a refused connection, an untrusted certificate and a
// Local Network Access denial all surface as the same "TypeError: Failed to fetch" or close
// 1006. We use the two honest signals that exist: the Permissions API state of Local Network
// Access, and whether the ping answers (only "something answered" is learnt).

import { KysoError } from "./errors.mjs";

/** Permission names browsers have used for Local Network Access (Chrome 142+ and later splits). */
export const LNA_PERMISSION_NAMES = ["loopback-network", "local-network-access", "local-network"];

const NO_CORS = { mode: "no-cors", cache: "no-store", credentials: "omit" };

function withTimeout(fetchImpl, url, init, ms) {
  const controller = typeof AbortController === "function" ? new AbortController() : null;
  const timer = setTimeout(() => controller && controller.abort(), ms);
  return fetchImpl(url, controller ? { ...init, signal: controller.signal } : init).finally(() =>
    clearTimeout(timer),
  );
}

async function answers(fetchImpl, url, timeoutMs) {
  try {
    await withTimeout(fetchImpl, url, NO_CORS, timeoutMs);
    return true;
  } catch {
    return false;
  }
}

const isPort = (value) => Number.isInteger(value) && value > 0 && value < 65536;

/** The first ping port that answers (the body is never read), or null. */
async function answeringPingPort({ fetch: fetchImpl, host, pingPorts, timeoutMs }) {
  for (const port of pingPorts) {
    if (await answers(fetchImpl, `http://${host}:${port}/v1/ping`, timeoutMs)) return port;
  }
  return null;
}

/** Whether anything answers the agent's plain-http ping (the body is never read). */
export async function pingAnswers(options) {
  return (await answeringPingPort(options)) !== null;
}

/**
 * `GET /v1/port` on the ping port over CORS: the port of this OS user's agent, or null (origin
 * not allowed by the agent's settings, an older agent, anything else).
 */
export async function readPort({ fetch: fetchImpl, host, pingPort, timeoutMs }) {
  try {
    const response = await withTimeout(
      fetchImpl,
      `http://${host}:${pingPort}/v1/port`,
      { mode: "cors", cache: "no-store", credentials: "omit" },
      timeoutMs,
    );
    if (!response.ok) return null;
    const body = await response.json();
    return body && isPort(body.port) ? body.port : null;
  } catch {
    return null;
  }
}

/**
 * `GET /v1/info` in CORS mode: the agent's info when it already allows this page's origin, else
 * null. Only for silent reconnection (it must not open a WebSocket, which could ask the user
 * to pair): for an origin the agent does not allow, the browser logs the refusal.
 */
export async function readInfo({ fetch: fetchImpl, host, port, timeoutMs }) {
  try {
    const response = await withTimeout(
      fetchImpl,
      `https://${host}:${port}/v1/info`,
      { mode: "cors", cache: "no-store", credentials: "omit" },
      timeoutMs,
    );
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}

const PING_ANSWERED = "answered"; // the agent was last found with its ping answering
const PING_SILENT = "silent"; // ... with its ping off (policy, port taken): always probe ports

/**
 * What this browser saw the last time it found the agent: whether the ping answered. Kept in
 * the page origin's localStorage (when there is one); every failure to read or write it is
 * ignored — it only saves console lines, it never decides whether the agent is found.
 */
export class PingMemory {
  constructor(storage, key) {
    this.storage = storage || null;
    this.key = key;
  }

  /** The port where the agent was last found (null: none, or not a port number). */
  port() {
    try {
      const value = this.storage ? Number(this.storage.getItem(`${this.key}:port`)) : NaN;
      return isPort(value) ? value : null;
    } catch {
      return null;
    }
  }

  setPort(port) {
    try {
      if (this.storage) this.storage.setItem(`${this.key}:port`, String(port));
    } catch {
      // As in set(): only a console line is lost.
    }
  }

  get() {
    try {
      return this.storage ? this.storage.getItem(this.key) : null;
    } catch {
      return null;
    }
  }

  set(value) {
    try {
      if (this.storage) this.storage.setItem(this.key, value);
    } catch {
      // Storage full or forbidden (sandboxed frame): nothing is lost but a console line.
    }
  }

  clear() {
    try {
      if (this.storage) this.storage.removeItem(this.key);
    } catch {
      // As above.
    }
  }
}

/**
 * Find the agent. `tryPort(port)` connects (or reads) one port and resolves to a result, or to
 * null when nothing usable is there; ports are tried in order, one at a time unless one takes
 * `hedgeMs` (then the next starts alongside it: see firstOpen). Resolves to
 * {port, result, ping}: `port`/`result` of the first success (null when none), `ping`
 * true/false whether the ping answered (null when there is no ping port).
 *
 * When the ping fails and `memory` says it answered the last time the agent was found, the
 * agent is not running: no port is tried (one failed request instead of 1 + ports). A
 * foreground attempt then forgets that, so if the ping was turned off since (policy, port
 * taken) the user's next attempt tries the ports and finds the agent. Without that memory
 * (first visit, ping off, no storage) a foreground attempt always tries the ports; a
 * background one only when the agent was last found without its ping.
 */
export async function discover({
  fetch: fetchImpl,
  host,
  ports,
  pingPorts = [],
  timeoutMs,
  memory,
  background = false,
  tryPort,
  hedgeMs = Infinity,
  discard = () => {},
}) {
  let ping = null;
  let pingPort = null;
  if (pingPorts.length) {
    pingPort = await answeringPingPort({ fetch: fetchImpl, host, pingPorts, timeoutMs });
    ping = pingPort !== null;
    const remembered = memory ? memory.get() : null;
    if (!ping && (background ? remembered !== PING_SILENT : remembered === PING_ANSWERED)) {
      if (!background && memory) memory.clear();
      return { port: null, result: null, ping, skipped: true };
    }
  }
  const found = async (port, result) => {
    if (memory) {
      if (ping !== null) memory.set(ping ? PING_ANSWERED : PING_SILENT);
      memory.setPort(port);
    }
    return { port, result, ping };
  };
  const last = memory ? memory.port() : null;
  const tried = [...new Set(last === null ? ports : [last, ...ports])];
  const askPing = async () => {
    if (pingPort === null) return null;
    const told = await readPort({ fetch: fetchImpl, host, pingPort, timeoutMs });
    if (told === null || tried.includes(told)) return null;
    const result = await tryPort(told);
    return result ? { port: told, result } : null;
  };
  const first = await scanThenAsk(tried, tryPort, hedgeMs, discard, askPing);
  if (first) return found(first.port, first.result);
  return { port: null, result: null, ping };
}

/**
 * firstOpen over `ports`, and `ask()` (the port the ping names) once every port was started:
 * when they all said null, and also while one still hangs (another OS user's silent listener
 * must not hold discovery until its attempt times out: red team 40). The first result wins;
 * a later one from the other side goes to `discard`. Null when both found nothing.
 */
function scanThenAsk(ports, tryPort, hedgeMs, discard, ask) {
  return new Promise((resolve, reject) => {
    let done = false;
    let scanOver = false;
    let asking = false;
    let askOver = false;
    const finish = (fn, value) => {
      if (!done) {
        done = true;
        fn(value);
      }
    };
    const offer = (value) => {
      if (!value) return false;
      if (done) discard(value.result);
      else finish(resolve, value);
      return true;
    };
    const startAsking = () => {
      if (asking) return;
      asking = true;
      ask().then(
        (value) => {
          askOver = true;
          if (!offer(value) && scanOver) finish(resolve, null);
        },
        (error) => finish(reject, error),
      );
    };
    firstOpen(ports, tryPort, hedgeMs, discard, startAsking).then(
      (value) => {
        scanOver = true;
        if (offer(value)) return;
        if (askOver) finish(resolve, null);
        else startAsking();
      },
      (error) => finish(reject, error),
    );
  });
}

/**
 * Try `ports` in order with `tryPort` (a result, null for "nothing usable there", or a throw
 * that is the answer: the site refused, a timeout). The next port starts as soon as one says
 * null, and also once the running ones took `hedgeMs` without an answer: a port that accepts
 * and then never answers (another user's listener on a shared computer, a hung program) must
 * not hide the agent on a later port for the whole interaction timeout. The agent may hold its
 * socket while the user decides whether to pair the site, so a slow port keeps running. The
 * first result wins, and a result that comes after it is handed to `discard`; the first throw
 * is the answer; when every port said null, resolves to null. `allStarted` is called when
 * every port was started and some are still running past `hedgeMs`.
 */
export function firstOpen(ports, tryPort, hedgeMs, discard, allStarted = () => {}) {
  return new Promise((resolve, reject) => {
    let next = 0;
    let running = 0;
    let done = false;
    let timer = null;
    const settle = (fn, value) => {
      if (done) return false;
      done = true;
      clearTimeout(timer);
      fn(value);
      return true;
    };
    const start = () => {
      clearTimeout(timer);
      if (done) return;
      if (next >= ports.length) {
        if (running === 0) settle(resolve, null);
        else allStarted(); // only slow ones left: the caller may look elsewhere meanwhile
        return;
      }
      const port = ports[next++];
      running += 1;
      Promise.resolve()
        .then(() => tryPort(port))
        .then(
          (result) => {
            running -= 1;
            if (result) {
              if (!settle(resolve, { port, result })) discard(result);
            } else {
              start();
            }
          },
          (error) => {
            running -= 1;
            settle(reject, error);
          },
        );
      if (Number.isFinite(hedgeMs)) timer = setTimeout(start, hedgeMs);
    };
    start();
  });
}

/** The Local Network Access permission state: "granted" | "denied" | "prompt" | "unsupported". */
export async function localNetworkState(permissions) {
  if (!permissions || typeof permissions.query !== "function") return "unsupported";
  let state = "unsupported";
  for (const name of LNA_PERMISSION_NAMES) {
    try {
      const status = await permissions.query({ name });
      if (status.state === "denied") return "denied";
      if (state === "unsupported" || status.state === "granted") state = status.state;
    } catch {
      // This browser does not know this permission name; try the next.
    }
  }
  return state;
}

/**
 * No port answered over https: decide which error to show.
 * LNA denied beats everything (it blocks every request); an answering ping means the agent runs
 * but its certificate is not trusted; otherwise the agent is most likely not running (an agent
 * too old to serve the ping, its ping turned off by policy, or a firewall look the same, so the
 * message still covers both; with no ping port configured we cannot tell at all).
 * `ping` is what discovery already learnt (true/false, null = no ping port); when it is not
 * given, the ping is asked here.
 */
export async function diagnose({ fetch: fetchImpl, permissions, host, ports, pingPorts = [], timeoutMs, ping }) {
  const lna = await localNetworkState(permissions);
  const details = { ports: ports.join(", "), localNetworkAccess: lna };
  if (lna === "denied") return new KysoError("LOCAL_NETWORK_DENIED", { details });
  let answered = ping;
  if (answered === undefined) {
    answered = pingPorts.length ? await pingAnswers({ fetch: fetchImpl, host, pingPorts, timeoutMs }) : null;
  }
  if (answered) return new KysoError("CERT_NOT_TRUSTED", { details });
  details.diagnosis = answered === null ? "not-running-or-untrusted" : "not-running";
  return new KysoError("AGENT_UNREACHABLE", { details });
}
