// The two files a portal copies are generated from src/ and stand on their own.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import test from "node:test";
import vm from "node:vm";

import { build, collect } from "../scripts/build.mjs";
import * as fromSource from "../src/index.mjs";
import { FakeEnv } from "./fakes.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

test("the committed kyso-bridge.mjs and kyso-bridge.js are exactly a fresh build of src/", () => {
  for (const [name, text] of Object.entries(build())) {
    assert.equal(readFileSync(join(root, name), "utf8"), text, `${name}: run node scripts/build.mjs`);
  }
});

test("kyso-bridge.mjs works copied alone into an empty folder (no imports left)", async () => {
  const text = readFileSync(join(root, "kyso-bridge.mjs"), "utf8");
  assert.doesNotMatch(text, /^\s*import\b/m);
  const folder = mkdtempSync(join(tmpdir(), "kyso-copy-"));
  writeFileSync(join(folder, "kyso-bridge.mjs"), text);
  const copy = await import(pathToFileURL(join(folder, "kyso-bridge.mjs")).href);
  assert.deepEqual(Object.keys(copy).sort(), Object.keys(fromSource).sort());
  const env = new FakeEnv();
  env.add(27443);
  const bridge = new copy.KysoBridge(env.options());
  assert.equal((await bridge.connect()).port, 27443);
  assert.equal((await bridge.listTokens())[0].label, "KYSO DEMO 1");
  bridge.close();
});

test("kyso-bridge.js defines window.KysoBridge with the same names, and it connects", async () => {
  const text = readFileSync(join(root, "kyso-bridge.js"), "utf8");
  const sandbox = { window: {}, setTimeout, clearTimeout, queueMicrotask, btoa, atob, TextEncoder, TextDecoder, URL };
  vm.runInNewContext(text, sandbox);
  const api = sandbox.window.KysoBridge;
  assert.deepEqual(Object.keys(api).sort(), Object.keys(fromSource).sort());
  assert.equal(new api.KysoError("TIMEOUT", { details: { seconds: 5 } }).messageEn, "Kyso did not answer within 5 seconds.");
  const env = new FakeEnv();
  env.add(27443);
  const bridge = new api.KysoBridge(env.options());
  assert.equal((await bridge.connect()).name, "Kyso");
  bridge.close();
});

function sources(files) {
  const base = mkdtempSync(join(tmpdir(), "kyso-src-"));
  mkdirSync(join(base, "src"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(base, "src", name), text);
  return base;
}

test("the build puts dependencies first and refuses what concatenation would silently break", () => {
  const { order } = collect();
  const at = (file) => order.findIndex((m) => m.file === file);
  assert.ok(at("src/util.mjs") < at("src/errors.mjs") && at("src/errors.mjs") < at("src/rpc.mjs"));
  assert.equal(order.at(-1).file, "src/bridge.mjs");
  const entry = 'export { b } from "./b.mjs";\n';
  // Two modules declaring one top-level name would shadow each other in the shared scope.
  const clash = sources({
    "index.mjs": entry,
    "a.mjs": "export const x = 1;\nfunction helper() {}\n",
    "b.mjs": 'import { x } from "./a.mjs";\nfunction helper() {}\nexport const b = x;\n',
  });
  assert.throws(() => build(clash), /"helper" is declared in both/);
  // An import of a name the module does not export would become an undefined reference.
  const missing = sources({
    "index.mjs": entry,
    "a.mjs": "const x = 1;\n",
    "b.mjs": 'import { x } from "./a.mjs";\nexport const b = x;\n',
  });
  assert.throws(() => build(missing), /imports "x" that src\/a.mjs does not export/);
  const renamed = sources({
    "index.mjs": entry,
    "a.mjs": "export const x = 1;\n",
    "b.mjs": 'import { x as y } from "./a.mjs";\nexport const b = y;\n',
  });
  assert.throws(() => build(renamed), /renamed import/);
});
