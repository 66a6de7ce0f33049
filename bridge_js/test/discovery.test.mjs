// Discovery sends only requests that succeed when Kyso runs, and as few failing ones as it can
// when it does not: in a browser every failed request is a red console line (README "What the
// console shows"). `env.failed` lists those requests.
import assert from "node:assert/strict";
import test from "node:test";

import { KysoBridge } from "../kyso-bridge.mjs";
import { FakeAgent, FakeEnv } from "./fakes.mjs";

const PING = "http://127.0.0.1:27442/v1/ping";
const ws = (port) => `wss://127.0.0.1:${port}/v1/ws`;

function withPing(env, extra = {}) {
  return env.options({ pingPorts: [27442], ...extra });
}

test("agent running on its default port: the ping, then the WebSocket; nothing fails", async () => {
  const env = new FakeEnv();
  env.add(27443, new FakeAgent({ corsInfo: false })); // a new site: /v1/info over CORS would be refused
  env.pingPorts.add(27442);
  const bridge = new KysoBridge(withPing(env));
  await bridge.connect();
  assert.deepEqual(env.fetched, [{ url: PING, mode: "no-cors" }]);
  assert.deepEqual(env.opened.map((w) => w.url), [ws(27443)]);
  assert.deepEqual(env.failed, []);
  bridge.close();
});

test("ports are tried one at a time: an agent on a fallback port costs only the ports before it", async () => {
  const env = new FakeEnv();
  env.add(27444);
  env.pingPorts.add(27442);
  const bridge = new KysoBridge(withPing(env));
  assert.equal((await bridge.connect()).port, 27444);
  assert.deepEqual(env.failed, [ws(27443)]);
  assert.ok(!env.opened.some((w) => w.url === ws(27445)), "27445 is never tried");
  bridge.close();
});

test("not running, first visit: the ping and one WebSocket per port fail, nothing else", async () => {
  const env = new FakeEnv();
  await assert.rejects(new KysoBridge(withPing(env)).connect(), (error) => {
    assert.equal(error.code, "AGENT_UNREACHABLE");
    assert.equal(error.details.diagnosis, "not-running");
    return true;
  });
  assert.deepEqual(env.failed, [PING, ws(27443), ws(27444), ws(27445)]);
});

test("not running after the agent was found with its ping: only the ping fails", async () => {
  const env = new FakeEnv();
  const agent = env.add(27443);
  env.pingPorts.add(27442);
  const first = new KysoBridge(withPing(env));
  await first.connect();
  first.close();
  env.agents.delete(27443);
  agent.dropAll();
  env.pingPorts.delete(27442);
  env.failed.length = 0;
  // A later page load (a new bridge, the same localStorage).
  await assert.rejects(new KysoBridge(withPing(env)).connect(), (error) => {
    assert.equal(error.code, "AGENT_UNREACHABLE");
    assert.equal(error.details.diagnosis, "not-running");
    return true;
  });
  assert.deepEqual(env.failed, [PING]);
});

test("a ping turned off after it was remembered: the user's next attempt finds the agent", async () => {
  const env = new FakeEnv();
  env.add(27443);
  env.pingPorts.add(27442);
  const first = new KysoBridge(withPing(env));
  await first.connect();
  first.close();
  env.pingPorts.delete(27442); // IT sets ping_port = 0 (terminal server), Kyso still runs
  const bridge = new KysoBridge(withPing(env));
  await assert.rejects(bridge.connect(), (error) => error.code === "AGENT_UNREACHABLE");
  const found = await bridge.connect(); // the user clicks again
  assert.equal(found.port, 27443);
  bridge.close();
  // From now on the bridge knows this machine's agent has no ping and always probes.
  const later = new KysoBridge(withPing(env));
  assert.equal((await later.connect()).port, 27443);
  later.close();
});

test("without any storage the bridge never skips the ports (it cannot know)", async () => {
  const env = new FakeEnv();
  env.add(27443);
  env.pingPorts.add(27442);
  const first = new KysoBridge(withPing(env, { storage: null }));
  await first.connect();
  first.close();
  env.pingPorts.delete(27442);
  const bridge = new KysoBridge(withPing(env, { storage: null }));
  assert.equal((await bridge.connect()).port, 27443);
  bridge.close();
});

test("a storage that throws (sandboxed frame) is ignored, discovery still works", async () => {
  const env = new FakeEnv();
  env.add(27443);
  env.pingPorts.add(27442);
  const hostile = {
    getItem() {
      throw new DOMException("denied", "SecurityError");
    },
    setItem() {
      throw new DOMException("denied", "SecurityError");
    },
    removeItem() {
      throw new DOMException("denied", "SecurityError");
    },
  };
  const bridge = new KysoBridge(withPing(env, { storage: hostile }));
  assert.equal((await bridge.connect()).port, 27443);
  bridge.close();
});

test("Local Network Access denied: no request at all, LOCAL_NETWORK_DENIED", async () => {
  const env = new FakeEnv({ lna: "denied" });
  env.add(27443);
  await assert.rejects(new KysoBridge(withPing(env)).connect(), (error) => error.code === "LOCAL_NETWORK_DENIED");
  assert.deepEqual(env.fetched, []);
  assert.equal(env.opened.length, 0);
});

test("an agent restart: background attempts cost one failed ping each, then it reconnects", async () => {
  const env = new FakeEnv();
  const agent = env.add(27443);
  env.pingPorts.add(27442);
  const bridge = new KysoBridge(withPing(env, { reconnectDelaysMs: [5] }));
  await bridge.connect();
  const connected = new Promise((resolve) => bridge.on("connected", resolve));
  env.agents.delete(27443);
  env.pingPorts.delete(27442);
  env.failed.length = 0;
  agent.dropAll();
  try {
    // Until two background attempts failed (a fixed wait failed under load, and an assertion
    // failing before close() left the bridge's timers holding `node --test` open).
    for (let waited = 0; env.failed.length < 2 && waited < 5_000; waited += 5) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.ok(env.failed.length >= 2, "it kept looking");
    assert.ok(env.failed.every((url) => url === PING), env.failed.join(" "));
    env.add(27443);
    env.pingPorts.add(27442);
    assert.equal((await connected).port, 27443);
  } finally {
    bridge.close();
  }
});

test("background reconnection stops (no more requests) at an agent that would ask to pair", async () => {
  const env = new FakeEnv();
  const agent = env.add(27443);
  env.pingPorts.add(27442);
  const bridge = new KysoBridge(withPing(env, { reconnectDelaysMs: [5] }));
  await bridge.connect();
  const disconnected = new Promise((resolve) => bridge.on("disconnected", resolve));
  env.add(27443, new FakeAgent({ corsInfo: false })); // restarted without this site's approval
  agent.dropAll();
  await disconnected;
  // Wait until the background attempt has read /v1/info over CORS (and been refused)...
  while (!env.fetched.some((f) => f.mode === "cors")) await new Promise((resolve) => setTimeout(resolve, 2));
  const count = env.fetched.length;
  await new Promise((resolve) => setTimeout(resolve, 40));
  // ...then nothing more: the user's next call reconnects (and the agent asks to pair).
  assert.equal(env.fetched.length, count);
  assert.equal(bridge.connected, false);
  assert.equal((await bridge.listTokens()).length, 1);
  bridge.close();
});

test("ports that are not port numbers are refused at construction with BRIDGE_USAGE", () => {
  for (const options of [{ ports: "27443" }, { ports: [] }, { pingPorts: [0] }, { pingPorts: null }, { ports: [27443.5] }]) {
    assert.throws(
      () => new KysoBridge({ ...new FakeEnv().options(), ...options }),
      (error) => error.code === "BRIDGE_USAGE" && /options\.(ports|pingPorts)/.test(error.details.detail),
      JSON.stringify(options),
    );
  }
});

// Terminal servers (issue 17): every user's agent on its own port of a `port_range`; the ping
// port tells this OS user's page which one, over CORS, to origins the agent's settings allow.
const PORT_ASK = "http://127.0.0.1:27442/v1/port";

test("terminal server, first visit: default ports fail, the ping names this user's port", async () => {
  const env = new FakeEnv();
  env.add(27461); // this user's agent, in the range
  env.pingPorts.add(27442);
  env.portAnswer = 27461;
  const bridge = new KysoBridge(withPing(env));
  assert.equal((await bridge.connect()).port, 27461);
  // Bounded: the three default ports, never a scan of the range.
  assert.deepEqual(env.failed, [ws(27443), ws(27444), ws(27445)]);
  assert.deepEqual(
    env.fetched.map((f) => [f.url, f.mode]),
    [[PING, "no-cors"], [PORT_ASK, "cors"]],
  );
  bridge.close();
  // Later page loads go straight to the remembered port: nothing fails.
  env.failed.length = 0;
  env.fetched.length = 0;
  const later = new KysoBridge(withPing(env));
  assert.equal((await later.connect()).port, 27461);
  assert.deepEqual(env.failed, []);
  assert.deepEqual(env.fetched.map((f) => f.url), [PING]);
  later.close();
});

test("the remembered port moved (another user took it): the ping names the new one", async () => {
  const env = new FakeEnv();
  env.add(27461);
  env.pingPorts.add(27442);
  env.portAnswer = 27461;
  const first = new KysoBridge(withPing(env));
  await first.connect();
  first.close();
  env.agents.delete(27461);
  env.add(27462);
  env.portAnswer = 27462;
  env.failed.length = 0;
  const bridge = new KysoBridge(withPing(env));
  assert.equal((await bridge.connect()).port, 27462);
  assert.deepEqual(env.failed, [ws(27461), ws(27443), ws(27444), ws(27445)]);
  bridge.close();
});

test("a port answer that is not a port, or one already tried, opens nothing more", async () => {
  for (const answer of [27443, 0, 70000, "27461", 27461.5]) {
    const env = new FakeEnv();
    env.pingPorts.add(27442);
    env.portAnswer = answer;
    await assert.rejects(new KysoBridge(withPing(env)).connect(), (error) => error.code === "CERT_NOT_TRUSTED");
    assert.deepEqual(env.opened.map((w) => w.url), [ws(27443), ws(27444), ws(27445)], String(answer));
  }
});

test("the port is not asked when the ping does not answer, nor on a single-user machine", async () => {
  const env = new FakeEnv();
  env.portAnswer = 27461;
  await assert.rejects(new KysoBridge(withPing(env)).connect(), (error) => error.code === "AGENT_UNREACHABLE");
  assert.ok(!env.fetched.some((f) => f.url === PORT_ASK));
  env.add(27443);
  env.pingPorts.add(27442);
  const bridge = new KysoBridge(withPing(env));
  await bridge.connect();
  assert.ok(!env.fetched.some((f) => f.url === PORT_ASK));
  bridge.close();
});

test("a port that accepts and never answers does not hide the agent on the next port", async () => {
  // Red team 40: another user's listener, or a hung program, on 27443 held discovery for the
  // whole interaction timeout (300 s) and then failed with TIMEOUT; the remembered port kept it so.
  const env = new FakeEnv();
  env.silentPorts.add(27443);
  env.add(27444);
  const bridge = new KysoBridge(env.options({ probeTimeoutMs: 20, interactionTimeoutMs: 60_000 }));
  const started = Date.now();
  assert.equal((await bridge.connect()).port, 27444);
  assert.ok(Date.now() - started < 5_000, "found after the probe timeout, not the interaction timeout");
  const silent = env.opened.find((w) => w.url === ws(27443));
  assert.equal(silent.readyState, 3, "the silent port's socket is closed once the agent is found");
  bridge.close();
});

test("a squatter on a default port does not hold back the port the ping names", async () => {
  // Red team 40: with another user's silent listener on 27443 and this user's agent on a range
  // port known only through /v1/port, the bridge waited for the squatter's attempt to time out.
  const env = new FakeEnv();
  env.silentPorts.add(27443);
  env.add(27461);
  env.pingPorts.add(27442);
  env.portAnswer = 27461;
  const bridge = new KysoBridge(withPing(env, { probeTimeoutMs: 20, interactionTimeoutMs: 60_000 }));
  const started = Date.now();
  assert.equal((await bridge.connect()).port, 27461);
  assert.ok(Date.now() - started < 5_000, "found through the ping, not after the squatter's timeout");
  assert.ok(env.fetched.some((f) => f.url === PORT_ASK));
  const silent = env.opened.find((w) => w.url === ws(27443));
  assert.equal(silent.readyState, 3, "the squatter's socket is closed once the agent is found");
  bridge.close();
});

test("an agent that holds its socket while the user decides to pair still wins", async () => {
  const env = new FakeEnv();
  env.silentPorts.add(27443); // the agent asking the pairing question: nothing yet
  const bridge = new KysoBridge(env.options({ probeTimeoutMs: 20, interactionTimeoutMs: 60_000 }));
  const connecting = bridge.connect();
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.ok(env.opened.some((w) => w.url === ws(27444)), "the next ports were tried meanwhile");
  // The user answers: the agent opens the held socket.
  const held = env.opened.find((w) => w.url === ws(27443));
  const agent = env.add(27443);
  held.agent = agent;
  agent.sockets.add(held);
  held.readyState = 1;
  held.onopen({});
  assert.equal((await connecting).port, 27443);
  bridge.close();
});
