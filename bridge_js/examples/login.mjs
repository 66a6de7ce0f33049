// Sign in with the USB token: a nonce from the server, Kyso signs it for this site, the server
// validates the token. Copy next to index.html and kyso-bridge.mjs (README "Example").
import { KysoBridge, KysoError } from "./kyso-bridge.mjs";

// Defaults are right for users (ports 27443–27445, ping 27442). KYSO_BRIDGE_OPTIONS is only
// for a test agent on other ports; leave it out in your page.
const kyso = new KysoBridge(window.KYSO_BRIDGE_OPTIONS);
const button = document.getElementById("sign-in");
const status = document.getElementById("status");

function show(state, text, code) {
  status.dataset.state = state; // "working" | "done" | "error"
  status.textContent = text;
  if (code) status.dataset.code = code; // the stable code, for your logs and support
  else delete status.dataset.code;
}

// POST JSON to this server; its errors come back as {error: {code, message_vi, action_vi}}.
async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = data.error || { code: `HTTP_${response.status}`, message_vi: "Máy chủ báo lỗi." };
    throw Object.assign(new Error(error.message_vi), { server: error });
  }
  return data;
}

async function signIn() {
  button.disabled = true;
  try {
    show("working", "Mời bạn làm tiếp trong cửa sổ Kyso: chọn chứng thư số, xác nhận rồi nhập mã PIN.");
    // 1. A fresh single-use challenge from the server.
    const { nonce } = await post("/login/challenge", {});
    // 2. Kyso asks the user (certificate, consent, PIN) in its own window and signs the nonce
    //    for THIS page's origin. The result is a Web eID 1.0 authentication token.
    const token = await kyso.authChallenge(nonce);
    // 3. The server validates it (origin, nonce, signature, chain, revocation) and signs us in.
    const { user } = await post("/login", { token });
    show("done", `Đã đăng nhập: ${user.name}${user.mst ? ` (MST ${user.mst})` : ""}.`);
  } catch (error) {
    if (error.server) {
      const e = error.server;
      show("error", `${e.message_vi} ${e.action_vi || ""} (Mã lỗi: ${e.code})`.trim(), e.code);
    } else {
      const e = KysoError.wrap(error);
      show("error", `${e.userText("vi")} (Mã lỗi: ${e.code})`, e.code); // message + what to do
    }
  } finally {
    button.disabled = false;
  }
}

button.addEventListener("click", signIn);
button.disabled = false;
