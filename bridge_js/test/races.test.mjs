// Interleavings a page can produce: close() during connect(), close() as the shared connect
// settles, agent notifications named like the bridge's own events, a call that times out while
// the agent still works. No timings: each test waits for the event it needs.
import assert from "node:assert/strict";
import test from "node:test";

import { KysoBridge, KysoError } from "../kyso-bridge.mjs";
import { FakeEnv } from "./fakes.mjs";

const rejectsWith = (promise, code) =>
  assert.rejects(promise, (error) => {
    assert.ok(error instanceof KysoError, `not a KysoError: ${error}`);
    assert.equal(error.code, code);
    return true;
  });

/** Let queued work run until `condition()` holds (bounded: a hang fails, nothing is timed). */
async function until(condition, what) {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(condition(), what);
}

test("close() during connect(): the attempt rejects with CONNECTION_LOST and keeps no socket", async () => {
  const env = new FakeEnv();
  const agent = env.add(27443);
  const bridge = new KysoBridge(env.options());
  const connected = [];
  bridge.on("connected", (info) => connected.push(info));
  const pending = bridge.connect();
  bridge.close();
  await assert.rejects(pending, (error) => {
    assert.ok(error instanceof KysoError);
    assert.equal(error.code, "CONNECTION_LOST");
    assert.equal(error.details.closeCode, 1000);
    return true;
  });
  await until(() => !bridge._attempt && agent.sockets.size === 0, "the agent still holds a socket");
  assert.equal(bridge.connected, false);
  assert.deepEqual(connected, []);
  // A later connect() starts afresh and works.
  assert.equal((await bridge.connect()).port, 27443);
  assert.equal(bridge.connected, true);
  bridge.close();
});

test("close() during the handshake: the open socket is closed and the bridge stays disconnected", async () => {
  const env = new FakeEnv();
  const agent = env.add(27443);
  const bridge = new KysoBridge(env.options());
  const connected = [];
  bridge.on("connected", (info) => connected.push(info));
  agent.handlers["agent.info"] = () => {
    bridge.close(); // the page gives up while the agent answers the version check
    return agent.info();
  };
  await rejectsWith(bridge.connect(), "CONNECTION_LOST");
  await until(() => env.opened.length === 1 && agent.sockets.size === 0, "the handshake's socket is still open");
  assert.equal(env.opened[0].readyState, 3);
  assert.equal(bridge.connected, false);
  assert.deepEqual(connected, []);
});

test("close() from a status listener: no WebSocket is opened at all", async () => {
  const env = new FakeEnv();
  env.add(27443);
  const bridge = new KysoBridge(env.options());
  bridge.on("status", ({ state }) => {
    if (state === "opening") bridge.close();
  });
  await rejectsWith(bridge.connect(), "CONNECTION_LOST");
  await until(() => !bridge._attempt, "the attempt is still running");
  assert.equal(env.opened.length, 0);
  assert.equal(bridge.connected, false);
});

test("close() while the WebSocket is still opening (pairing question shown) closes that socket", async () => {
  const env = new FakeEnv();
  env.add(27443);
  let created;
  const socketCreated = new Promise((resolve) => {
    created = resolve;
  });
  // An agent holding the upgrade while it asks the user to pair this site: never opens by itself.
  class HeldWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.closedWith = null;
      created(this);
    }
    close(code, reason) {
      this.closedWith = code;
      this.readyState = 3;
      queueMicrotask(() => this.onclose && this.onclose({ code, reason, wasClean: true }));
    }
  }
  const bridge = new KysoBridge(env.options({ WebSocket: HeldWebSocket }));
  const pending = bridge.connect();
  const ws = await socketCreated;
  bridge.close();
  await rejectsWith(pending, "CONNECTION_LOST");
  assert.equal(ws.closedWith, 1000, "the socket still waiting for pairing was not closed");
  await until(() => !bridge._attempt, "the attempt is still running");
  assert.equal(bridge.connected, false);
});

for (const [name, call] of [
  ["listTokens", (b) => b.listTokens()],
  ["listCertificates", (b) => b.listCertificates()],
  ["info", (b) => b.info()],
  ["signXml", (b) => b.signXml("<a/>")],
  ["authChallenge", (b) => b.authChallenge("n".repeat(44))],
]) {
  test(`close() as the shared connect resolves: ${name} rejects with a KysoError, not a TypeError`, async () => {
    const env = new FakeEnv();
    env.add(27443);
    const bridge = new KysoBridge(env.options());
    // One part of the page closes as soon as the connection is up; its then() runs first.
    bridge.connect().then(() => bridge.close());
    await rejectsWith(call(bridge), "CONNECTION_LOST");
    assert.equal(bridge.connected, false);
  });
}

test("agent notifications named like the bridge's events never reach those listeners", async () => {
  const env = new FakeEnv();
  const agent = env.add(27443);
  const bridge = new KysoBridge(env.options());
  await bridge.connect();
  const seen = [];
  for (const event of ["connected", "disconnected", "status", "agent.info", "tokens.list"]) {
    bridge.on(event, (payload) => seen.push([event, payload]));
  }
  const progress = [];
  bridge.on("sign.progress", (p) => progress.push(p.done));
  const tokensChanged = new Promise((resolve) => bridge.on("tokens.changed", resolve));
  agent.notify("disconnected", { code: "CONNECTION_LOST" });
  agent.notify("status", { state: "permission" });
  agent.notify("connected", { name: "Kyso", version: "9.9.9" });
  agent.notify("agent.info", {});
  agent.notify("tokens.list", {});
  agent.notify("sign.progress", { request_id: 99, done: 1, total: 2 });
  // Notifications arrive in order: once this documented one is seen, the others were handled.
  agent.notify("tokens.changed", { event: "inserted", token: { label: "KYSO DEMO 1", serial: "1" } });
  assert.equal((await tokensChanged).event, "inserted");
  assert.deepEqual(seen, []);
  assert.deepEqual(progress, [1], "the protocol's sign.progress still reaches the page");
  assert.equal(bridge.connected, true);
  bridge.close();
});

test("a call's TIMEOUT tells the page the agent may still finish it (no cancel exists)", async () => {
  const env = new FakeEnv();
  const agent = env.add(27443);
  agent.handlers["sign.xml"] = () => undefined; // the user is still in Kyso's consent window
  const bridge = new KysoBridge(env.options());
  await assert.rejects(bridge.signXml("<a/>", { timeoutMs: 10 }), (error) => {
    assert.ok(error instanceof KysoError);
    assert.equal(error.code, "TIMEOUT");
    assert.equal(error.details.method, "sign.xml");
    assert.equal(error.details.agentMayStillFinish, true);
    assert.match(error.actionEn, /may still be working on this request/);
    assert.match(error.actionEn, /will not receive that result/);
    assert.match(error.actionVi, /vẫn đang xử lý yêu cầu này/);
    return true;
  });
  bridge.close();
});
