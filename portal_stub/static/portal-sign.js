// The portal's signing hooks (docs/portal-api.md, "Signing hooks for the bridge"): every form
// with data-kyso-action is signed through the local Kyso agent before it is submitted.
//  - account actions (register, add-types, stop-types, cancel, change-details,
//    change-certificate): post the form to the challenge URL; the portal answers with the
//    request document it wrote from the form (docs/portal-api.md, "Account requests"); sign it
//    with sign.xml (profile bhxh: Kyso shows the request in words), fill signed_request, submit;
//  - sign-dossier: fetch the unsigned dossier, sign.xml (profile bhxh), fill signed_document,
//    submit to "Kiểm tra hồ sơ"; with PDF attachments chosen ("Ký tệp đính kèm"), one
//    sign.batch signs the dossier and every PDF, and the signed PDFs go as "dinh_kem" files.
//    What is signed is the saved version the page shows: nothing is signed (or sent) while
//    the draft's edit form holds changes not saved with "Ghi" (E424); the document URL and
//    the form name that version, and the portal refuses any other (E422, E423).
// What goes wrong is shown in the form's .kyso-status in Vietnamese, with what to do next.

import { KysoBridge, KysoError } from "/kyso-bridge/kyso-bridge.mjs";

const REQUEST_ACTIONS = new Set([
  "register",
  "add-types",
  "stop-types",
  "cancel",
  "change-details",
  "change-certificate",
]);

const TEXT = {
  connecting:
    "Đang kết nối tới Kyso trên máy tính của bạn… Nếu trình duyệt hỏi quyền truy cập " +
    "thiết bị trong mạng cục bộ, hãy chọn «Cho phép».",
  permission:
    "Trình duyệt đang hỏi có cho trang này truy cập thiết bị trong mạng cục bộ (để gặp Kyso " +
    "trên máy của bạn): hãy chọn «Cho phép».",
  opening:
    "Đã tìm thấy Kyso. Nếu Kyso hỏi có cho phép trang này dùng USB token, hãy chọn «Cho phép».",
  challenge: "Đang lập yêu cầu trên cổng…",
  requestPrompt:
    "Mời bạn làm tiếp trong cửa sổ Kyso: chọn chứng thư số, đọc kỹ nội dung yêu cầu (đơn vị, " +
    "mã số thuế, nội dung thay đổi) rồi nhập mã PIN của USB token.",
  download: "Đang lấy tệp hồ sơ để ký…",
  signPrompt:
    "Mời bạn làm tiếp trong cửa sổ Kyso: kiểm tra thông tin hồ sơ (mã thủ tục, đơn vị, kỳ kê " +
    "khai, số lao động), xác nhận rồi nhập mã PIN của USB token.",
  signPromptAttachments: (n) =>
    "Mời bạn làm tiếp trong cửa sổ Kyso: kiểm tra thông tin hồ sơ và " +
    `${n} tệp đính kèm (tên tệp, số trang), xác nhận một lần rồi nhập mã PIN của USB token.`,
  attachmentReason: "Tệp đính kèm hồ sơ BHXH điện tử",
  done: "Đã ký số thành công. Đang gửi lên cổng…",
  errorTitle: "Chưa ký được:",
  codeLabel: "Mã lỗi",
};

// What the token reports about its PIN counter, in words (PIN_INCORRECT carries pin_state).
const PIN_STATE_TEXT = {
  count_low: "USB token báo đã có lần nhập sai mã PIN: số lần thử còn lại đang giảm.",
  final_try: "Chỉ còn MỘT lần thử trước khi USB token bị khóa.",
  locked: "USB token đã bị khóa mã PIN.",
};

function bridgeOptions() {
  // A page (or a test) may point the bridge at other ports: window.KYSO_BRIDGE_OPTIONS or
  // <meta name="kyso-bridge-options" content='{"ports":[27443]}'>.
  const fromWindow = window.KYSO_BRIDGE_OPTIONS;
  if (fromWindow && typeof fromWindow === "object") return fromWindow;
  const meta = document.querySelector('meta[name="kyso-bridge-options"]');
  if (meta) {
    try {
      return JSON.parse(meta.content);
    } catch {
      // Ignore a malformed meta tag: the defaults are right for almost everyone.
    }
  }
  return {};
}

let sharedBridge = null;
function bridge() {
  if (!sharedBridge) {
    sharedBridge = new KysoBridge(bridgeOptions());
    window.kysoBridge = sharedBridge; // for the console and for tests
  }
  return sharedBridge;
}

function statusElement(form) {
  let el = form.querySelector(".kyso-status");
  if (!el) {
    el = document.createElement("div");
    el.className = "kyso-status";
    el.setAttribute("role", "status");
    el.setAttribute("aria-live", "polite");
    form.prepend(el);
  }
  return el;
}

// The portal's own alert styles, so the bridge's messages look like the portal's messages.
const LOOK = { working: "note", done: "alert alert-ok", error: "alert alert-error" };

function setLook(el, state) {
  el.dataset.state = state;
  el.className = `kyso-status ${LOOK[state]}`;
  el.style.fontWeight = "normal";
}

function showProgress(form, text, state = "working") {
  const el = statusElement(form);
  setLook(el, state);
  delete el.dataset.kysoCode;
  el.setAttribute("aria-live", "polite");
  el.replaceChildren(paragraph("kyso-msg", text));
}

function paragraph(className, text, strongPrefix) {
  const p = document.createElement("p");
  p.className = className;
  if (strongPrefix) {
    const strong = document.createElement("strong");
    strong.textContent = strongPrefix + " ";
    p.append(strong);
  }
  p.append(document.createTextNode(text));
  return p;
}

function showError(form, error) {
  const el = statusElement(form);
  setLook(el, "error");
  el.dataset.kysoCode = error.code;
  el.setAttribute("aria-live", "assertive");
  const parts = [paragraph("kyso-msg", error.messageVi, TEXT.errorTitle)];
  const pinState = error.details && error.details.pin_state;
  if (pinState && PIN_STATE_TEXT[pinState]) parts.push(paragraph("kyso-pin", PIN_STATE_TEXT[pinState]));
  if (error.actionVi) parts.push(paragraph("kyso-action", error.actionVi));
  parts.push(paragraph("kyso-code muted small", `${TEXT.codeLabel}: ${error.code}`));
  el.replaceChildren(...parts);
}

function portalError(body, status) {
  // The portal's own errors come as {"error": {code, message_vi, action_vi, ...}}.
  const e = body && body.error;
  if (e && e.code) {
    return new KysoError(String(e.code), {
      messageVi: e.message_vi,
      messageEn: e.message_en,
      actionVi: e.action_vi,
      actionEn: e.action_en,
      details: e.details || {},
    });
  }
  return new KysoError("UNKNOWN_ERROR", { details: { detail: `HTTP ${status}` } });
}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

function setField(form, name, value) {
  let input = form.querySelector(`input[name="${name}"]`);
  if (!input) {
    input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    form.append(input);
  }
  input.value = value;
}

function bytesOfBase64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) out[i] = raw.charCodeAt(i);
  return out;
}

// Which certificate Kyso should offer (docs: bridge README, "certificateFilter"):
//  - data-kyso-certificate names one certificate strictly (Kyso refuses if it is absent or
//    unfit, before any prompt);
//  - data-kyso-registered (every page after registration): a filter on the registered
//    thumbprint, so Kyso preselects it, or skips the picker when it is the one usable match;
//    when it is missing or expired the unit sees why in the picker (and the portal refuses
//    any other certificate with CERT_NOT_REGISTERED);
//  - registering or changing certificate: a filter on the unit's MST (typed, or the account's).
// A preference, never a permission: the portal checks the signer itself.
export function certificateChoice(form) {
  const certificate = form.dataset.kysoCertificate || undefined;
  if (certificate) return { certificate };
  const registered = form.dataset.kysoRegistered || "";
  if (/^[0-9a-f]{64}$/.test(registered)) return { certificateFilter: { thumbprints: [registered] } };
  const input = form.querySelector('input[name="ma_so_thue"]');
  const value = input ? input.value.trim() : (form.dataset.kysoMst || "").trim();
  return /^[0-9]{10}(-[0-9]{3})?$/.test(value) ? { certificateFilter: { mst: value, validOnly: true } } : {};
}

// Where the certificate that just signed lives, from Kyso's own listing (token label and
// serial, or the remote service): the account page shows it. Best effort: a listing that
// fails leaves it out, it never stops the signed request from being sent.
export async function deviceOf(kyso, thumbprint) {
  try {
    const certificates = await kyso.listCertificates();
    const found = certificates.find((c) => c.thumbprint === thumbprint);
    if (!found) return "";
    if (found.token) {
      return JSON.stringify({ kind: "token", thumbprint, label: found.token, serial: found.token_serial || "" });
    }
    const provider = found.provider_label || found.provider || "";
    return provider ? JSON.stringify({ kind: "remote", thumbprint, provider }) : "";
  } catch {
    return "";
  }
}

const DEVICE_ACTIONS = new Set(["register", "change-certificate"]);

async function signRequest(form, kyso) {
  showProgress(form, TEXT.challenge);
  const csrf = form.querySelector('input[name="csrf_token"]');
  const response = await fetch(form.dataset.kysoChallengeUrl, {
    method: "POST",
    body: new FormData(form),
    headers: csrf ? { "X-CSRF-Token": csrf.value } : {},
    credentials: "same-origin",
  });
  const body = await readJson(response);
  if (!response.ok || !body || !body.request) throw portalError(body, response.status);
  form.dataset.kysoNonce = body.nonce;
  await connect(form, kyso);
  showProgress(form, TEXT.requestPrompt);
  // No label: what the unit reads comes from the request itself, worded by Kyso.
  const signed = await kyso.signXml(bytesOfBase64(body.request), {
    profile: body.profile || "bhxh",
    ...certificateChoice(form),
  });
  setField(form, "signed_request", signed.document);
  if (DEVICE_ACTIONS.has(form.dataset.kysoAction)) {
    setField(form, "thiet_bi", await deviceOf(kyso, signed.thumbprint));
  }
}

// The PDFs the user chose to attach (scanned papers), checked against the portal's limits
// before anything is signed; the portal checks them again.
function chosenAttachments(form) {
  const input = form.querySelector("input[data-kyso-attachments]");
  const files = input && input.files ? [...input.files] : [];
  const maxFiles = Number(form.dataset.kysoMaxAttachments || 10);
  const maxMb = Number(form.dataset.kysoMaxAttachmentMb || 10);
  const limit = (detail) =>
    new KysoError("E415", {
      messageVi: `Tệp đính kèm vượt giới hạn: ${detail}.`,
      actionVi: `Mỗi hồ sơ kèm tối đa ${maxFiles} tệp PDF, mỗi tệp tối đa ${maxMb} MB.`,
    });
  if (files.length > maxFiles) throw limit(`${files.length} tệp (tối đa ${maxFiles})`);
  for (const file of files) {
    if (file.size > maxMb * 1024 * 1024) {
      throw limit(`tệp «${file.name}» nặng ${(file.size / 1048576).toFixed(1)} MB`);
    }
  }
  return files;
}

// Put the signed PDFs in the form's "dinh_kem" file input: the browser then posts them as
// files (multipart), exactly as a user-chosen file would go.
function setSignedAttachments(form, signedFiles) {
  const input = form.querySelector("input[data-kyso-signed-attachments]");
  const transfer = new DataTransfer();
  for (const file of signedFiles) transfer.items.add(file);
  input.files = transfer.files;
}

// The default (as drawn by the portal) of one control of the edit form. A select with no
// option marked selected shows its first option.
function changedControl(el) {
  const type = (el.type || "").toLowerCase();
  if (["submit", "button", "reset", "hidden", "file", "image"].includes(type)) return false;
  if (el.tagName === "SELECT") {
    const options = [...el.options];
    const chosen = options.filter((o) => o.selected).map((o) => o.value);
    let defaults = options.filter((o) => o.defaultSelected).map((o) => o.value);
    if (!defaults.length && !el.multiple && options.length) defaults = [options[0].value];
    return chosen.join("\n") !== defaults.join("\n");
  }
  if (type === "checkbox" || type === "radio") return el.checked !== el.defaultChecked;
  return "defaultValue" in el && el.value !== el.defaultValue;
}

// Does the page show anything but the saved draft? Either the portal drew it from values
// not yet saved ("Thêm dòng", a refused "Ghi": data-kyso-unsaved="1"), or the user has
// changed a field of the edit form (data-kyso-edit-form names it) since.
export function unsavedEdits(form, doc = document) {
  if (form.dataset.kysoUnsaved === "1") return true;
  const id = form.dataset.kysoEditForm;
  const edit = id ? doc.getElementById(id) : null;
  return Boolean(edit) && [...edit.elements].some(changedControl);
}

function unsavedError(form) {
  // The portal's catalogue row (E424), as the page was given it.
  let row = null;
  try {
    row = JSON.parse(form.dataset.kysoUnsavedError || "null");
  } catch {
    row = null;
  }
  if (row && row.code) return portalError({ error: row }, 409);
  return new KysoError("E424", {
    messageVi: "Hồ sơ trên trang có thay đổi chưa được ghi, nên chưa ký gì cả.",
    actionVi: 'Bấm "Ghi" để lưu thay đổi rồi bấm "Ký và nộp".',
  });
}

async function signDossier(form, kyso) {
  // "Ký và nộp" signs the saved version: never while the page shows something else.
  if (unsavedEdits(form)) throw unsavedError(form);
  const attachments = chosenAttachments(form);
  showProgress(form, TEXT.download);
  const response = await fetch(form.dataset.kysoDocumentUrl, { credentials: "same-origin" });
  if (!response.ok) throw portalError(await readJson(response), response.status);
  const document_ = new Uint8Array(await response.arrayBuffer());
  await connect(form, kyso);
  const profile = form.dataset.kysoProfile || "bhxh";
  const choice = certificateChoice(form);
  if (!attachments.length) {
    showProgress(form, TEXT.signPrompt);
    const signed = await kyso.signXml(document_, { profile, ...choice });
    // Edited while Kyso's window was open: the signature is of the saved version, which
    // the page no longer shows, so it is dropped rather than sent.
    if (unsavedEdits(form)) throw unsavedError(form);
    setField(form, "signed_document", signed.document);
    return;
  }
  // "Ký tệp đính kèm": the dossier and every PDF in one batch: one consent that lists each
  // file, one PIN. Invisible PDF signatures: a stamp could cover the scanned seal or text,
  // and the page cannot know the last page's size without parsing the PDF.
  showProgress(form, TEXT.signPromptAttachments(attachments.length));
  const items = [
    { kind: "xml", profile, document: document_ },
    ...attachments.map((file) => ({
      kind: "pdf",
      document: file,
      label: file.name,
      reason: TEXT.attachmentReason,
    })),
  ];
  const batch = await kyso.signBatch(items, { stopOnError: true, ...choice });
  const ordered = [...batch.results].sort((a, b) => a.index - b.index);
  const failed = ordered.find((entry) => !entry.ok);
  if (failed) throw failed.error;
  if (ordered.length !== items.length) throw new KysoError("UNKNOWN_ERROR");
  const [dossier, ...pdfs] = ordered;
  if (unsavedEdits(form)) throw unsavedError(form); // edited during the consent: see above
  setField(form, "signed_document", dossier.result.document);
  setSignedAttachments(
    form,
    pdfs.map(
      (entry, i) =>
        new File([bytesOfBase64(entry.result.document)], attachments[i].name, {
          type: "application/pdf",
        }),
    ),
  );
}

async function connect(form, kyso) {
  if (kyso.connected) return;
  const off = kyso.on("status", ({ state }) => {
    if (state === "permission") showProgress(form, TEXT.permission);
    if (state === "connecting") showProgress(form, TEXT.connecting);
    if (state === "opening") showProgress(form, TEXT.opening);
  });
  try {
    await kyso.connect();
  } finally {
    off();
  }
}

function buttons(form) {
  return [...form.querySelectorAll('button[type="submit"], input[type="submit"], button:not([type])')];
}

function attach(form) {
  const action = form.dataset.kysoAction;
  if (action !== "sign-dossier" && !REQUEST_ACTIONS.has(action)) return;
  let busy = false;
  form.addEventListener("submit", async (event) => {
    if (form.dataset.kysoReady === "1") {
      // Our own requestSubmit() after signing: let the browser post the form.
      delete form.dataset.kysoReady;
      return;
    }
    event.preventDefault();
    if (busy || !form.reportValidity()) return;
    busy = true;
    const submitter = event.submitter || null;
    const disabled = buttons(form);
    for (const b of disabled) b.disabled = true;
    try {
      const kyso = bridge();
      if (action === "sign-dossier") await signDossier(form, kyso);
      else await signRequest(form, kyso);
      showProgress(form, TEXT.done, "done");
      for (const b of disabled) b.disabled = false;
      form.dataset.kysoReady = "1";
      // requestSubmit keeps the pressed button's name/value, unlike form.submit().
      if (submitter && submitter.form === form) form.requestSubmit(submitter);
      else form.requestSubmit();
    } catch (error) {
      showError(form, KysoError.wrap(error));
      for (const b of disabled) b.disabled = false;
    } finally {
      busy = false;
    }
  });
  form.dataset.kysoAttached = "1";
}

function attachAll() {
  for (const form of document.querySelectorAll("form[data-kyso-action]")) attach(form);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", attachAll);
else attachAll();
