import assert from "node:assert/strict";
import test from "node:test";

import { DEFAULTS, KysoBridge, KysoError } from "../kyso-bridge.mjs";
import { FakeAgent, FakeEnv, PAGE_ORIGIN } from "./fakes.mjs";

const rejectsWith = (promise, code) =>
  assert.rejects(promise, (error) => {
    assert.ok(error instanceof KysoError, `not a KysoError: ${error}`);
    assert.equal(error.code, code);
    return true;
  });

function waitFor(bridge, event) {
  return new Promise((resolve) => {
    const off = bridge.on(event, (payload) => {
      off();
      resolve(payload);
    });
  });
}

test("discovery skips a dead default port and uses the first fallback that answers", async () => {
  const env = new FakeEnv();
  env.add(27444);
  env.add(27445);
  const bridge = new KysoBridge(env.options());
  const info = await bridge.connect();
  assert.equal(info.port, 27444);
  assert.equal(env.opened.at(-1).url, "wss://127.0.0.1:27444/v1/ws");
  assert.equal(bridge.connected, true);
  bridge.close();
});

test("an agent not yet paired (info unreadable) is still found and reached over the WebSocket", async () => {
  const env = new FakeEnv();
  env.add(27443, new FakeAgent({ corsInfo: false }));
  const bridge = new KysoBridge(env.options());
  const info = await bridge.connect();
  assert.equal(info.name, "Kyso");
  assert.ok(!env.fetched.some((f) => f.mode === "cors"), "no CORS request, which this site would be refused");
  bridge.close();
});

test("concurrent calls share one connection", async () => {
  const env = new FakeEnv();
  env.add(27443);
  const bridge = new KysoBridge(env.options());
  const [tokens, certs] = await Promise.all([bridge.listTokens(), bridge.listCertificates()]);
  assert.equal(tokens[0].label, "KYSO DEMO 1");
  assert.equal(certs.length, 1);
  assert.equal(env.opened.length, 1);
  bridge.close();
});

test("an old agent is refused on the handshake, before any other call", async () => {
  const env = new FakeEnv();
  const agent = env.add(27443, new FakeAgent({ version: "0.0.9" }));
  const bridge = new KysoBridge(env.options({ minAgentVersion: "0.1.0" }));
  await assert.rejects(bridge.listTokens(), (error) => {
    assert.equal(error.code, "AGENT_TOO_OLD");
    assert.match(error.messageVi, /0\.0\.9/);
    assert.match(error.actionVi, /Cập nhật Kyso/);
    return true;
  });
  assert.deepEqual(agent.received.map((m) => m.method), ["agent.info"]);
  assert.equal(bridge.connected, false);
  assert.equal(agent.sockets.size, 0, "the socket to the old agent is closed");
});

test("an agent without protocol 1 is too old; a foreign program is not Kyso", async () => {
  const env = new FakeEnv();
  env.add(27443, new FakeAgent({ protocol: [] }));
  await rejectsWith(new KysoBridge(env.options()).connect(), "AGENT_TOO_OLD");
  const other = new FakeEnv();
  const agent = other.add(27443);
  agent.info = () => ({ name: "SomethingElse", protocol: ["1"], version: "9" });
  await rejectsWith(new KysoBridge(other.options()).connect(), "PROTOCOL_UNSUPPORTED");
});

test("origin refused in pairing: close 4403 becomes ORIGIN_NOT_ALLOWED naming the page", async () => {
  const env = new FakeEnv();
  env.add(27443, new FakeAgent({ refuseOrigin: true, corsInfo: false }));
  const bridge = new KysoBridge(env.options());
  await assert.rejects(bridge.connect(), (error) => {
    assert.equal(error.code, "ORIGIN_NOT_ALLOWED");
    assert.ok(error.messageVi.includes(PAGE_ORIGIN));
    return true;
  });
});

test("nothing listening and no ping: AGENT_UNREACHABLE telling how to start Kyso", async () => {
  const env = new FakeEnv();
  const bridge = new KysoBridge(env.options()); // the default ping port 27442: nothing answers
  await assert.rejects(bridge.connect(), (error) => {
    assert.equal(error.code, "AGENT_UNREACHABLE");
    assert.equal(error.details.diagnosis, "not-running");
    assert.match(error.actionVi, /kyso-agent run/);
    return true;
  });
  assert.deepEqual(
    env.opened.map((ws) => ws.url),
    ["wss://127.0.0.1:27443/v1/ws", "wss://127.0.0.1:27444/v1/ws", "wss://127.0.0.1:27445/v1/ws"],
    "each port tried once",
  );
});

test("agent running with an untrusted certificate: the http ping answers → CERT_NOT_TRUSTED", async () => {
  const env = new FakeEnv();
  env.add(27443, new FakeAgent({ trusted: false }));
  env.pingPorts.add(27442);
  await assert.rejects(new KysoBridge(env.options({ pingPorts: [27442] })).connect(), (error) => {
    assert.equal(error.code, "CERT_NOT_TRUSTED");
    assert.match(error.actionVi, /kyso-agent trust install/);
    return true;
  });
});

test("the ping is on by default, on the agent's port 27442", async () => {
  assert.deepEqual(DEFAULTS.pingPorts, [27442]);
  const env = new FakeEnv();
  env.add(27443, new FakeAgent({ trusted: false }));
  env.pingPorts.add(27442);
  await assert.rejects(new KysoBridge(env.options()).connect(), (error) => {
    assert.equal(error.code, "CERT_NOT_TRUSTED");
    assert.ok(env.fetched.some((f) => f.url === "http://127.0.0.1:27442/v1/ping" && f.mode === "no-cors"));
    return true;
  });
});

test("with the ping turned off the diagnosis says it cannot tell the two apart", async () => {
  const env = new FakeEnv();
  env.add(27443, new FakeAgent({ trusted: false }));
  env.pingPorts.add(27442); // even though something would answer: the page did not ask
  await assert.rejects(new KysoBridge(env.options({ pingPorts: [] })).connect(), (error) => {
    assert.equal(error.code, "AGENT_UNREACHABLE");
    assert.equal(error.details.diagnosis, "not-running-or-untrusted");
    assert.match(error.actionVi, /trust install/);
    return true;
  });
});

test("Local Network Access denied wins over every other reason", async () => {
  const env = new FakeEnv({ lna: "denied" });
  env.add(27443);
  env.pingPorts.add(27442);
  await assert.rejects(new KysoBridge(env.options({ pingPorts: [27442] })).connect(), (error) => {
    assert.equal(error.code, "LOCAL_NETWORK_DENIED");
    assert.match(error.actionVi, /LocalNetworkAccessAllowedForUrls/);
    return true;
  });
});

test("a browser without the LNA permission name falls back to the other checks", async () => {
  const env = new FakeEnv({ permissionNames: [] });
  await rejectsWith(new KysoBridge(env.options()).connect(), "AGENT_UNREACHABLE");
});

test("a call that gets no answer times out with TIMEOUT; the connection stays usable", async () => {
  const env = new FakeEnv();
  const agent = env.add(27443);
  agent.handlers["tokens.list"] = () => undefined; // never answers
  const bridge = new KysoBridge(env.options({ callTimeoutMs: 30 }));
  await assert.rejects(bridge.listTokens(), (error) => {
    assert.equal(error.code, "TIMEOUT");
    assert.equal(error.details.method, "tokens.list");
    return true;
  });
  assert.equal((await bridge.listCertificates()).length, 1);
  bridge.close();
});

test("signing calls get the longer interaction timeout, not the call timeout", async () => {
  const env = new FakeEnv();
  const agent = env.add(27443);
  agent.handlers["auth.challenge"] = (params, ws, id) => {
    setTimeout(() => ws._deliver({ jsonrpc: "2.0", id, result: { format: "web-eid:1.0", nonce: params.nonce } }), 60);
    return undefined;
  };
  const bridge = new KysoBridge(env.options({ callTimeoutMs: 20, interactionTimeoutMs: 1000 }));
  const token = await bridge.authChallenge("n".repeat(44));
  assert.equal(token.format, "web-eid:1.0");
  await rejectsWith(bridge.authChallenge("n".repeat(44), { timeoutMs: 10 }), "TIMEOUT");
  bridge.close();
});

test("signXml sends base64 of the UTF-8 text and returns the signed document", async () => {
  const env = new FakeEnv();
  const agent = env.add(27443);
  agent.handlers["sign.xml"] = (params) => {
    const xml = Buffer.from(params.document, "base64").toString("utf8");
    return { document: Buffer.from(xml.replace("<CKy_Dvi/>", "<CKy_Dvi>sig</CKy_Dvi>")).toString("base64"), profile: params.profile };
  };
  const bridge = new KysoBridge(env.options());
  const result = await bridge.signXml("<Hoso><TenDoiTuong>Công ty</TenDoiTuong><CKy_Dvi/></Hoso>", { certificate: "ab" });
  assert.equal(result.profile, "bhxh");
  assert.equal(new TextDecoder().decode(result.bytes()), "<Hoso><TenDoiTuong>Công ty</TenDoiTuong><CKy_Dvi>sig</CKy_Dvi></Hoso>");
  const sent = agent.received.find((m) => m.method === "sign.xml");
  assert.equal(sent.params.certificate, "ab");
  bridge.close();
});

test("agent errors reach the page as KysoError with tries left", async () => {
  const env = new FakeEnv();
  const agent = env.add(27443);
  agent.handlers["sign.hash"] = () => {
    throw {
      code: 2001,
      message: "The PIN is incorrect.",
      data: { code: "PIN_INCORRECT", message_vi: "Mã PIN không đúng (còn {tries_left} lần).", details: { tries_left: 2 } },
    };
  };
  const bridge = new KysoBridge(env.options());
  await assert.rejects(bridge.signHash("00".repeat(32)), (error) => {
    assert.equal(error.code, "PIN_INCORRECT");
    assert.equal(error.details.tries_left, 2);
    return true;
  });
  const hashCall = agent.received.find((m) => m.method === "sign.hash");
  assert.equal(hashCall.params.digest, Buffer.alloc(32).toString("base64"));
  bridge.close();
});

test("bad input from the page is refused before anything reaches the agent", async () => {
  const env = new FakeEnv();
  env.add(27443);
  const bridge = new KysoBridge(env.options());
  await rejectsWith(bridge.authChallenge(""), "BRIDGE_USAGE");
  await rejectsWith(bridge.signHash("not hex"), "BRIDGE_USAGE");
  await rejectsWith(bridge.signBatch([]), "BRIDGE_USAGE");
  await rejectsWith(bridge.signBatch([{ kind: "pdf" }]), "BRIDGE_USAGE");
  assert.equal(env.opened.length, 0);
});

test("signBatch reports progress for its own request and returns one entry per item", async () => {
  const env = new FakeEnv();
  const agent = env.add(27443);
  agent.handlers["sign.batch"] = (params, ws, id) => {
    const total = params.items.length;
    for (let done = 1; done <= total; done++) {
      ws._deliver({ jsonrpc: "2.0", method: "sign.progress", params: { request_id: id + 1000, done, total } });
      ws._deliver({ jsonrpc: "2.0", method: "sign.progress", params: { request_id: id, done, total } });
    }
    const results = params.items.map((item, index) =>
      index === 1
        ? { index, ok: false, error: { code: 2005, message: "cancelled", data: { code: "USER_CANCELLED", message_vi: "Đã hủy" } } }
        : { index, ok: true, result: { kind: item.kind } },
    );
    return { results, signed: 2, failed: 1, thumbprint: "ab" };
  };
  const bridge = new KysoBridge(env.options());
  const progress = [];
  const results = await bridge.signBatch(
    [
      { kind: "xml", document: "<a/>" },
      { kind: "cms", data: new Uint8Array([1, 2]) },
      { kind: "hash", digest: "ff".repeat(32), algorithm: "RSA_PKCS1_SHA256" },
    ],
    { stopOnError: true, onProgress: (p) => progress.push(p) },
  );
  assert.deepEqual(progress, [{ done: 1, total: 3 }, { done: 2, total: 3 }, { done: 3, total: 3 }]);
  assert.equal(results.results.length, 3);
  assert.equal(results.signed, 2);
  assert.equal(results.results[1].error.code, "USER_CANCELLED");
  assert.ok(results.results[1].error instanceof KysoError);
  assert.equal(results.results[2].result.kind, "hash");
  const sent = agent.received.find((m) => m.method === "sign.batch").params;
  assert.equal(sent.stop_on_error, true);
  assert.equal(sent.items[1].data, "AQI=");
  assert.equal(sent.items[1].detached, true);
  bridge.close();
});

test("tokens.changed notifications reach subscribers; unsubscribe stops them", async () => {
  const env = new FakeEnv();
  const agent = env.add(27443);
  const bridge = new KysoBridge(env.options());
  await bridge.connect();
  const seen = [];
  const off = bridge.on("tokens.changed", (p) => seen.push(p.event));
  agent.notify("tokens.changed", { event: "removed", token: { label: "KYSO DEMO 1", serial: "1" } });
  await new Promise((r) => setTimeout(r, 5));
  off();
  agent.notify("tokens.changed", { event: "inserted", token: { label: "KYSO DEMO 1", serial: "1" } });
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(seen, ["removed"]);
  bridge.close();
});

test("agent restart: the running call fails with CONNECTION_LOST, then the bridge reconnects", async () => {
  const env = new FakeEnv();
  const agent = env.add(27443);
  agent.handlers["sign.xml"] = () => undefined; // the user is still looking at the consent dialog
  const bridge = new KysoBridge(env.options());
  await bridge.connect();
  const pending = bridge.signXml("<a/>");
  await new Promise((r) => setTimeout(r, 5));
  const disconnected = waitFor(bridge, "disconnected");
  env.agents.delete(27443);
  agent.dropAll();
  await rejectsWith(pending, "CONNECTION_LOST");
  assert.equal((await disconnected).code, "CONNECTION_LOST");
  // The agent comes back on a fallback port; the bridge finds it by itself.
  const reconnected = waitFor(bridge, "connected");
  env.add(27444);
  const info = await reconnected;
  assert.equal(info.port, 27444);
  assert.equal((await bridge.listTokens()).length, 1);
  bridge.close();
});

test("no silent reconnection to an agent that would ask to pair again; the next call does it", async () => {
  const env = new FakeEnv();
  const agent = env.add(27443);
  const bridge = new KysoBridge(env.options());
  await bridge.connect();
  agent.dropAll();
  env.add(27443, new FakeAgent({ corsInfo: false }));
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(bridge.connected, false);
  assert.equal(env.opened.length, 1);
  assert.equal((await bridge.listTokens()).length, 1);
  assert.equal(env.opened.length, 2);
  bridge.close();
});

test("close() stops reconnection for good", async () => {
  const env = new FakeEnv();
  const agent = env.add(27443);
  const bridge = new KysoBridge(env.options());
  await bridge.connect();
  bridge.close();
  agent.dropAll();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(env.opened.length, 1);
  assert.equal(bridge.connected, false);
});

test("signCms sends data or a digest and returns the agent's cms field", async () => {
  const env = new FakeEnv();
  const agent = env.add(27443);
  agent.handlers["sign.cms"] = (params) => ({ cms: Buffer.from(JSON.stringify(params)).toString("base64"), thumbprint: "ab" });
  const bridge = new KysoBridge(env.options());
  const withData = await bridge.signCms({ data: "xin chào" });
  const sent = JSON.parse(new TextDecoder().decode(withData.bytes()));
  assert.equal(Buffer.from(sent.data, "base64").toString(), "xin chào");
  assert.equal(sent.detached, true);
  const withDigest = await bridge.signCms({ digest: "aa".repeat(32), detached: false, hash: "sha256" });
  const sent2 = JSON.parse(Buffer.from(withDigest.cms, "base64").toString());
  assert.equal(sent2.digest, Buffer.alloc(32, 0xaa).toString("base64"));
  assert.equal(sent2.detached, false);
  assert.equal(sent2.data, undefined);
  bridge.close();
});

test("an agent with too many connections closes with 4429: TOO_MANY_CONNECTIONS, no reconnect loop", async () => {
  const env = new FakeEnv();
  const agent = env.add(27443);
  const bridge = new KysoBridge(env.options());
  await bridge.connect();
  const disconnected = waitFor(bridge, "disconnected");
  for (const ws of [...agent.sockets]) ws._serverClose(4429, "TOO_MANY_CONNECTIONS");
  assert.equal((await disconnected).code, "TOO_MANY_CONNECTIONS");
  bridge.close();
});

test("while the browser asks for Local Network Access, discovery waits for the user", async () => {
  const env = new FakeEnv({ lna: "prompt" });
  env.add(27443);
  const slowFetch = env.fetch;
  env.fetch = (url, init) => new Promise((resolve, reject) => {
    // The browser holds the request until the user answers its prompt (here: 40 ms).
    const timer = setTimeout(() => slowFetch(url, init).then(resolve, reject), 40);
    init.signal?.addEventListener("abort", () => { clearTimeout(timer); reject(new DOMException("aborted", "AbortError")); });
  });
  const states = [];
  const bridge = new KysoBridge(env.options({ fetch: env.fetch, probeTimeoutMs: 10, interactionTimeoutMs: 2000 }));
  bridge.on("status", (s) => states.push(s.state));
  const info = await bridge.connect();
  assert.equal(info.port, 27443);
  assert.equal(states[0], "permission");
  bridge.close();
});

test("signPdf sends the PDF, its stamp placement and label, and batch items keep their labels", async () => {
  const env = new FakeEnv();
  const agent = env.add(27443);
  agent.handlers["sign.pdf"] = (params) => ({ document: params.document, level: "PAdES-B-B", field: "KysoSignature", visible: true, thumbprint: "ab" });
  agent.handlers["sign.batch"] = (params) => ({ results: params.items.map((_, index) => ({ index, ok: true, result: {} })), signed: params.items.length, failed: 0, thumbprint: "ab" });
  const bridge = new KysoBridge(env.options());
  const pdf = new Uint8Array([0x25, 0x50, 0x44, 0x46]);
  const signed = await bridge.signPdf(pdf, { label: "hop-dong.pdf", placement: { page: 2, box: [330, 60, 560, 135] } });
  assert.equal(signed.level, "PAdES-B-B");
  assert.deepEqual(Array.from(signed.bytes()), Array.from(pdf));
  const sent = agent.received.find((m) => m.method === "sign.pdf").params;
  assert.deepEqual(sent, { document: "JVBERg==", label: "hop-dong.pdf", placement: { page: 2, box: [330, 60, 560, 135] } });
  await rejectsWith(bridge.signPdf(pdf, { placement: { page: 1 } }), "BRIDGE_USAGE");
  await bridge.signBatch([
    { kind: "pdf", document: pdf, label: "phu-luc.pdf" },
    { kind: "xml", document: "<a/>", label: "Tờ khai D02-TS", allowEcdsa: true },
  ]);
  const items = agent.received.find((m) => m.method === "sign.batch").params.items;
  assert.deepEqual(items.map((i) => [i.kind, i.label]), [["pdf", "phu-luc.pdf"], ["xml", "Tờ khai D02-TS"]]);
  assert.equal(items[1].allow_ecdsa, true);
  bridge.close();
});

test("certificateFilter reaches the agent as certificate_filter on every signing call", async () => {
  const env = new FakeEnv();
  const agent = env.add(27443);
  agent.handlers["auth.challenge"] = () => ({ format: "web-eid:1.0" });
  agent.handlers["sign.xml"] = (params) => ({ document: params.document, thumbprint: "ab" });
  const bridge = new KysoBridge(env.options());
  const certificateFilter = { mst: "0101234567", thumbprints: ["ab".repeat(32)], validOnly: true };
  await bridge.authChallenge("n".repeat(43), { certificateFilter });
  await bridge.signXml("<Hoso/>", { certificateFilter: { issuer: "VNPT-CA" } });
  const sent = agent.received.filter((m) => m.method === "auth.challenge" || m.method === "sign.xml");
  assert.deepEqual(sent[0].params.certificate_filter, { mst: "0101234567", thumbprints: ["ab".repeat(32)], valid_only: true });
  assert.deepEqual(sent[1].params.certificate_filter, { issuer: "VNPT-CA" });
  await rejectsWith(bridge.signXml("<Hoso/>", { certificateFilter: "0101234567" }), "BRIDGE_USAGE");
  bridge.close();
});
