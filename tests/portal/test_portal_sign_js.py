"""portal-sign.js, run in node: which certificate the portal's pages ask Kyso for (issue 13:
the registered thumbprint as ``certificateFilter`` after registration, the MST before it), the
device it reports from Kyso's certificate listing, and when a draft page holds unsaved edits.

The module is loaded as the browser loads it, with only the bridge import pointed at a stub
(the functions under test take the bridge as an argument) and a document with no forms.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

STUB = """
export class KysoError extends Error {}
export class KysoBridge {}
"""

CHECKS = r"""
import assert from "node:assert/strict";
globalThis.window = {};
globalThis.document = { readyState: "complete", querySelectorAll: () => [] };
const { certificateChoice, deviceOf } = await import("./portal-sign.mjs");

const thumb = "ab".repeat(32);
function form({ dataset = {}, mst } = {}) {
  return {
    dataset,
    querySelector: (sel) => (mst !== undefined && sel.includes("ma_so_thue") ? { value: mst } : null),
  };
}

// After registration: the registered thumbprint as a filter, not a strict certificate.
assert.deepEqual(certificateChoice(form({ dataset: { kysoRegistered: thumb } })), {
  certificateFilter: { thumbprints: [thumb] },
});
// A page that insists on one certificate still can.
assert.deepEqual(certificateChoice(form({ dataset: { kysoCertificate: thumb } })), { certificate: thumb });
// Registering: the MST the unit typed; changing certificate: the account's MST.
assert.deepEqual(certificateChoice(form({ mst: " 0101234567 " })), {
  certificateFilter: { mst: "0101234567", validOnly: true },
});
assert.deepEqual(certificateChoice(form({ dataset: { kysoMst: "0101234567-001" } })), {
  certificateFilter: { mst: "0101234567-001", validOnly: true },
});
// Junk is never sent as a filter.
assert.deepEqual(certificateChoice(form({ dataset: { kysoRegistered: "<x>" }, mst: "12" })), {});

const listing = [
  { thumbprint: "cd".repeat(32), token: "OTHER", token_serial: "1" },
  { thumbprint: thumb, token: "KYSO DEMO 1", token_serial: "2e1c" },
  { thumbprint: "ef".repeat(32), provider: "smartca", provider_label: "VNPT SmartCA" },
];
const kyso = { listCertificates: async () => listing };
assert.deepEqual(JSON.parse(await deviceOf(kyso, thumb)), {
  kind: "token", thumbprint: thumb, label: "KYSO DEMO 1", serial: "2e1c",
});
assert.deepEqual(JSON.parse(await deviceOf(kyso, "ef".repeat(32))), {
  kind: "remote", thumbprint: "ef".repeat(32), provider: "VNPT SmartCA",
});
assert.equal(await deviceOf(kyso, "00".repeat(32)), "");
// A listing that fails never stops the signed request.
assert.equal(await deviceOf({ listCertificates: async () => { throw new Error("closed"); } }, thumb), "");

// "Ký và nộp" signs the saved draft only: any field of the edit form off its default (as the
// portal drew it) is an unsaved edit (redteam6 F1). A select with no option marked selected
// shows its first one: that is no edit.
const { unsavedEdits } = await import("./portal-sign.mjs");
const option = (value, selected, defaultSelected) => ({ value, selected, defaultSelected });
const select = (...options) => ({ tagName: "SELECT", type: "select-one", multiple: false, options });
const input = (value, defaultValue, type = "text") => ({ tagName: "INPUT", type, value, defaultValue });
function page(elements) {
  return { getElementById: (id) => (id === "f-ho-so" ? { elements } : null) };
}
const signForm = (unsaved = "") => ({ dataset: { kysoEditForm: "f-ho-so", kysoUnsaved: unsaved } });
const saved = [
  input("tok", "tok", "hidden"),
  input("8500000", "8500000"),
  input("1990-01-15", "1990-01-15", "date"),
  select(option("", false, false), option("Nam", true, true)),
  select(option("", true, false), option("TM", false, false)), // a blank row
  { tagName: "BUTTON", type: "submit", value: "ghi", defaultValue: "" },
];
assert.equal(unsavedEdits(signForm(), page(saved)), false);
assert.equal(unsavedEdits(signForm("1"), page(saved)), true); // drawn from unsaved values
assert.equal(unsavedEdits(signForm(), page([...saved, input("99000000", "8500000")])), true);
assert.equal(unsavedEdits(signForm(), page([select(option("", false, false), option("Nữ", true, false), option("Nam", false, true))])), true);
assert.equal(unsavedEdits(signForm(), page([select(option("", false, true), option("TM", true, false))])), true);
assert.equal(unsavedEdits(signForm(), page([input("x", "", "hidden")])), false);
assert.equal(unsavedEdits({ dataset: {} }, page([input("99000000", "8500000")])), false); // no edit form named
console.log("portal-sign checks ok");
"""


def test_portal_sign_certificate_choice_device_and_unsaved_edits(tmp_path: Path) -> None:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.fail("node is missing: install the Debian package nodejs (./run.sh test does)")
    source = (REPO / "portal_stub/static/portal-sign.js").read_text(encoding="utf-8")
    bridge_import = '"/kyso-bridge/kyso-bridge.mjs"'
    assert source.count(bridge_import) == 1
    (tmp_path / "portal-sign.mjs").write_text(source.replace(bridge_import, '"./stub.mjs"'))
    (tmp_path / "stub.mjs").write_text(STUB)
    (tmp_path / "checks.mjs").write_text(CHECKS)
    result = subprocess.run(
        [node, "checks.mjs"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "portal-sign checks ok" in result.stdout
