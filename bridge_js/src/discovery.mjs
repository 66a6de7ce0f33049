// Finding the agent, and when it cannot be found, telling the user the most likely reason.
//
// What a page can observe is limited (see README "Diagnosis and its limits"): a refused
// connection, an untrusted certificate and a Local Network Access denial all surface as the
// same "TypeError: Failed to fetch" / WebSocket close 1006. We use the two honest signals that
// exist: the Permissions API state of Local Network Access, and an optional plain-http ping
// (no body, read in no-cors mode: only "something answered" is learnt).

import { KysoError } from "./errors.mjs";

/** Permission names browsers have used for Local Network Access (Chrome 142+ and later splits). */
export const LNA_PERMISSION_NAMES = ["loopback-network", "local-network-access", "local-network"];

function withTimeout(fetchImpl, url, init, ms) {
  const controller = typeof AbortController === "function" ? new AbortController() : null;
  const timer = setTimeout(() => controller && controller.abort(), ms);
  return fetchImpl(url, controller ? { ...init, signal: controller.signal } : init).finally(() =>
    clearTimeout(timer),
  );
}

/**
 * Probe one port. Resolves to {port, reachable, info}:
 *  - info is the parsed GET /v1/info body when the agent let this origin read it (CORS);
 *  - reachable without info means a trusted TLS server answered but the answer was not
 *    readable from this origin (e.g. not paired yet): the WebSocket will do the pairing.
 */
export async function probePort({ fetch: fetchImpl, host, port, timeoutMs }) {
  const url = `https://${host}:${port}/v1/info`;
  try {
    const response = await withTimeout(
      fetchImpl,
      url,
      { mode: "cors", cache: "no-store", credentials: "omit" },
      timeoutMs,
    );
    let info = null;
    try {
      info = await response.json();
    } catch {
      info = null;
    }
    return { port, reachable: true, info: response.ok ? info : null, status: response.status };
  } catch {
    // CORS refusal and network failure look the same; an opaque no-cors answer tells them apart.
  }
  try {
    await withTimeout(fetchImpl, url, { mode: "no-cors", cache: "no-store", credentials: "omit" }, timeoutMs);
    return { port, reachable: true, info: null, status: 0 };
  } catch {
    return { port, reachable: false, info: null, status: 0 };
  }
}

/** Probe all ports at once; the first reachable one in the given order wins. */
export async function discover({ fetch: fetchImpl, host, ports, timeoutMs }) {
  const results = await Promise.all(
    ports.map((port) => probePort({ fetch: fetchImpl, host, port, timeoutMs })),
  );
  return results.find((r) => r.reachable) || null;
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

/** Whether anything answers the agent's plain-http ping (the body is never read). */
export async function pingAnswers({ fetch: fetchImpl, host, pingPorts, timeoutMs }) {
  for (const port of pingPorts) {
    try {
      await withTimeout(
        fetchImpl,
        `http://${host}:${port}/v1/ping`,
        { mode: "no-cors", cache: "no-store", credentials: "omit" },
        timeoutMs,
      );
      return true;
    } catch {
      // Nothing there; try the next.
    }
  }
  return false;
}

/**
 * No port answered over https: decide which error to show.
 * LNA denied beats everything (it blocks every request); an answering ping means the agent runs
 * but its certificate is not trusted; otherwise the agent is most likely not running (an agent
 * too old to serve the ping, its ping turned off by policy, or a firewall look the same, so the
 * message still covers both; with no ping port configured we cannot tell at all).
 */
export async function diagnose({ fetch: fetchImpl, permissions, host, ports, pingPorts, timeoutMs }) {
  const lna = await localNetworkState(permissions);
  const details = { ports: ports.join(", "), localNetworkAccess: lna };
  if (lna === "denied") return new KysoError("LOCAL_NETWORK_DENIED", { details });
  if (pingPorts.length && (await pingAnswers({ fetch: fetchImpl, host, pingPorts, timeoutMs }))) {
    return new KysoError("CERT_NOT_TRUSTED", { details });
  }
  details.diagnosis = pingPorts.length ? "not-running" : "not-running-or-untrusted";
  return new KysoError("AGENT_UNREACHABLE", { details });
}
