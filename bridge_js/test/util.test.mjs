import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "node:test";

import { ERROR_TABLE, KysoError, base64ToBytes, bytesToBase64, compareVersions } from "../kyso-bridge.mjs";
import { hexToBytes, listFrom, toBytes } from "../src/util.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

test("versions compare numerically, pre-releases first", () => {
  assert.equal(compareVersions("0.10.0", "0.9.3"), 1);
  assert.equal(compareVersions("1.0", "1.0.0"), 0);
  assert.equal(compareVersions("v1.2.3", "1.2.4"), -1);
  assert.equal(compareVersions("1.0.0-rc1", "1.0.0"), -1);
  assert.equal(compareVersions("1.0.0", "1.0.0-rc1"), 1);
});

test("base64 round-trips bytes larger than one chunk", () => {
  const bytes = new Uint8Array(100_003).map((_, i) => (i * 7) & 0xff);
  const back = base64ToBytes(bytesToBase64(bytes));
  assert.deepEqual(back, bytes);
  assert.equal(bytesToBase64(new TextEncoder().encode("Hồ sơ")), Buffer.from("Hồ sơ").toString("base64"));
});

test("inputs become bytes: text as UTF-8, views, buffers, blobs; digests from hex", async () => {
  assert.deepEqual(await toBytes("<a>ệ</a>"), new Uint8Array(Buffer.from("<a>ệ</a>")));
  assert.deepEqual(await toBytes(new Uint16Array([1]).buffer), new Uint8Array([1, 0]));
  assert.deepEqual(await toBytes(new Blob(["xy"])), new Uint8Array([120, 121]));
  assert.equal(await toBytes(42), null);
  assert.deepEqual(hexToBytes("00ff10"), new Uint8Array([0, 255, 16]));
  assert.equal(hexToBytes("abc"), null);
  assert.deepEqual(listFrom({ tokens: [1] }, "tokens"), [1]);
  assert.deepEqual(listFrom([2], "tokens"), [2]);
});

test("agent errors keep the agent's text and stable code", () => {
  const error = KysoError.fromRpc({
    code: 2001,
    message: "The PIN is incorrect.",
    data: {
      code: "PIN_INCORRECT",
      message_vi: "Mã PIN không đúng.",
      message_en: "The PIN is incorrect.",
      action_vi: "Nhập lại mã PIN cẩn thận.",
      action_en: "Enter the PIN again carefully.",
      details: { tries_left: 2 },
    },
  });
  assert.ok(error instanceof Error);
  assert.equal(error.code, "PIN_INCORRECT");
  assert.equal(error.rpcCode, 2001);
  assert.equal(error.details.tries_left, 2);
  assert.equal(error.userText(), "Mã PIN không đúng. Nhập lại mã PIN cẩn thận.");
  assert.equal(error.userText("en"), "The PIN is incorrect. Enter the PIN again carefully.");
  assert.equal(JSON.parse(JSON.stringify(error)).code, "PIN_INCORRECT");
});

test("a JSON-RPC error without Kyso data still becomes a readable KysoError", () => {
  const error = KysoError.fromRpc({ code: -32000, message: "boom" });
  assert.equal(error.code, "UNKNOWN_ERROR");
  assert.match(error.messageVi, /boom/);
  assert.equal(KysoError.wrap(new TypeError("x")).code, "UNKNOWN_ERROR");
});

test("bridge codes fill their placeholders in both languages", () => {
  const error = new KysoError("AGENT_TOO_OLD", { details: { version: "0.0.9", minimum: "0.1.0" } });
  assert.match(error.messageVi, /0\.0\.9.*0\.1\.0/);
  assert.match(error.messageEn, /0\.0\.9.*0\.1\.0/);
  assert.ok(error.actionVi.length > 10 && error.actionEn.length > 10);
});

test("the error table: unique numbers, bridge codes in 5xxx, every text present", () => {
  const seen = new Set();
  for (const [code, row] of Object.entries(ERROR_TABLE)) {
    assert.ok(!seen.has(row.rpc), `duplicate number ${row.rpc}`);
    seen.add(row.rpc);
    for (const key of ["vi", "en", "actionVi", "actionEn"]) assert.ok(row[key].trim(), `${code}.${key}`);
  }
  for (const code of ["AGENT_UNREACHABLE", "CERT_NOT_TRUSTED", "LOCAL_NETWORK_DENIED", "TIMEOUT", "AGENT_TOO_OLD"]) {
    assert.ok(ERROR_TABLE[code].rpc >= 5000 && ERROR_TABLE[code].rpc < 6000, code);
  }
  assert.match(ERROR_TABLE.CERT_NOT_TRUSTED.actionVi, /kyso-agent trust install/);
  assert.match(ERROR_TABLE.LOCAL_NETWORK_DENIED.actionVi, /LocalNetworkAccessAllowedForUrls/);
});

test("package.json is fit to publish", () => {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  assert.equal(pkg.name, "@kyso/bridge");
  assert.equal(pkg.type, "module");
  assert.equal(pkg.license, "Apache-2.0");
  assert.equal(pkg.exports["."].types, "./kyso-bridge.d.ts");
  const src = readFileSync(join(root, "src/bridge.mjs"), "utf8");
  assert.match(src, new RegExp(`BRIDGE_VERSION = "${pkg.version.replace(/\./g, "\\.")}"`));
});
