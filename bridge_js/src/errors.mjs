// Errors a page can meet when it signs through Kyso: one class, stable codes, vi + en text and
// the action to take. Agent errors arrive with their own text (JSON-RPC error.data); the table
// below holds the bridge's own codes (5xxx: what only the page can see) and fallback text for
// the few agent codes the bridge must raise itself (e.g. a WebSocket closed with code 4403).

import { fillTemplate } from "./util.mjs";

/** @typedef {{rpc: number, vi: string, en: string, actionVi: string, actionEn: string}} ErrorRow */

/** @type {Record<string, ErrorRow>} */
export const ERROR_TABLE = {
  AGENT_UNREACHABLE: {
    rpc: 5001,
    vi: "Không kết nối được tới Kyso, phần mềm ký số trên máy tính của bạn.",
    en: "Could not reach Kyso, the signing software on your computer.",
    actionVi:
      "Kiểm tra Kyso đã được cài và đang chạy (biểu tượng Kyso ở khay hệ thống, hoặc chạy lệnh " +
      "'kyso-agent run'), rồi bấm lại nút ký. Chưa cài Kyso: tải bản cài đặt theo hướng dẫn của " +
      "cổng. Nếu Kyso đang chạy mà vẫn lỗi: chạy 'kyso-agent trust install' rồi mở lại trình duyệt.",
    actionEn:
      "Check that Kyso is installed and running (the Kyso icon in the system tray, or run " +
      "'kyso-agent run'), then press the sign button again. Not installed: get the installer " +
      "from the portal's instructions. If Kyso is running and this persists: run " +
      "'kyso-agent trust install' and restart the browser.",
  },
  CERT_NOT_TRUSTED: {
    rpc: 5002,
    vi: "Kyso đang chạy, nhưng trình duyệt này chưa tin cậy chứng thư bảo mật (TLS) của Kyso.",
    en: "Kyso is running, but this browser does not trust Kyso's security (TLS) certificate.",
    actionVi:
      "Chạy lệnh 'kyso-agent trust install' (hoặc chọn 'Tin cậy trình duyệt' trong menu Kyso), " +
      "đóng hẳn rồi mở lại trình duyệt, sau đó bấm lại nút ký.",
    actionEn:
      "Run 'kyso-agent trust install' (or choose 'Trust browsers' in Kyso's menu), close and " +
      "reopen the browser, then press the sign button again.",
  },
  LOCAL_NETWORK_DENIED: {
    rpc: 5003,
    vi: "Trình duyệt đang chặn trang này kết nối tới Kyso trên máy tính của bạn (quyền truy cập mạng cục bộ).",
    en: "The browser is blocking this page from reaching Kyso on your computer (local network access).",
    actionVi:
      "Bấm biểu tượng cài đặt trang ở bên trái thanh địa chỉ, cho phép 'Mạng cục bộ' (Local " +
      "network access) với trang này, rồi tải lại trang. Máy của cơ quan, doanh nghiệp: bộ phận " +
      "IT có thể cho phép sẵn bằng chính sách LocalNetworkAccessAllowedForUrls của Chrome/Edge.",
    actionEn:
      "Click the site settings icon left of the address bar, allow 'Local network access' for " +
      "this site, then reload the page. On managed computers IT can pre-allow the site with the " +
      "Chrome/Edge policy LocalNetworkAccessAllowedForUrls.",
  },
  TIMEOUT: {
    rpc: 5004,
    vi: "Kyso không trả lời trong {seconds} giây.",
    en: "Kyso did not answer within {seconds} seconds.",
    // No request can be withdrawn (docs/protocol.md): the agent may still finish it, and this
    // page would not receive the result (details.agentMayStillFinish on a call's timeout).
    actionVi:
      "Kyso có thể vẫn đang xử lý yêu cầu này và cửa sổ Kyso có thể vẫn đang hiện. Xem cửa sổ " +
      "Kyso: nếu nó còn chờ bạn xác nhận hay nhập mã PIN, hãy bấm Hủy ở đó (trang này sẽ không " +
      "nhận được kết quả của yêu cầu đó), rồi bấm lại nút ký. Nếu lặp lại, khởi động lại Kyso.",
    actionEn:
      "Kyso may still be working on this request, and its window may still be open. Look at the " +
      "Kyso window: if it is still waiting for your confirmation or PIN, cancel it there (this " +
      "page will not receive that result), then press the sign button again. If it happens " +
      "again, restart Kyso.",
  },
  AGENT_TOO_OLD: {
    rpc: 5005,
    vi: "Phiên bản Kyso trên máy ({version}) đã cũ; trang này cần Kyso {minimum} trở lên.",
    en: "The installed Kyso ({version}) is too old; this page needs Kyso {minimum} or later.",
    actionVi: "Cập nhật Kyso lên phiên bản mới nhất rồi tải lại trang.",
    actionEn: "Update Kyso to the latest version, then reload the page.",
  },
  CONNECTION_LOST: {
    rpc: 5006,
    vi: "Mất kết nối tới Kyso trong khi đang xử lý (Kyso có thể vừa tắt hoặc khởi động lại).",
    en: "The connection to Kyso was lost during the operation (Kyso may have stopped or restarted).",
    actionVi:
      "Kiểm tra Kyso đang chạy rồi bấm lại nút ký. Chưa có gì được gửi lên cổng.",
    actionEn: "Make sure Kyso is running, then press the sign button again. Nothing was sent to the portal.",
  },
  PROTOCOL_UNSUPPORTED: {
    rpc: 5007,
    vi: "Chương trình đang chạy trên cổng của Kyso không dùng được giao thức mà trang này cần.",
    en: "The program answering on Kyso's port does not speak the protocol this page needs.",
    actionVi: "Cập nhật Kyso lên phiên bản mới nhất, hoặc tắt chương trình khác đang dùng cổng 27443.",
    actionEn: "Update Kyso to the latest version, or stop the other program using port 27443.",
  },
  BRIDGE_USAGE: {
    rpc: 5008,
    vi: "Trang web gọi Kyso không đúng cách: {detail}.",
    en: "The web page called Kyso incorrectly: {detail}.",
    actionVi: "Đây là lỗi của trang web: báo cho đơn vị quản lý cổng thông tin. Không có gì được ký.",
    actionEn: "This is a fault in the web page: report it to the portal's operator. Nothing was signed.",
  },
  UNKNOWN_ERROR: {
    rpc: 5099,
    vi: "Lỗi không mong đợi khi ký số: {detail}.",
    en: "Unexpected error while signing: {detail}.",
    actionVi: "Tải lại trang rồi thử lại. Nếu vẫn lỗi, báo cho bộ phận hỗ trợ kèm nội dung lỗi này.",
    actionEn: "Reload the page and try again. If it persists, report this message to support.",
  },
  // Agent codes the bridge raises itself; the agent's own text wins whenever it sends one.
  ORIGIN_NOT_ALLOWED: {
    rpc: 4001,
    vi: "Trang {origin} không được phép dùng USB token của bạn.",
    en: "The site {origin} is not allowed to use your signing token.",
    // Kyso remembers a "deny" until it restarts, so "reload" alone would not ask again.
    actionVi:
      "Nếu bạn tin trang này: thoát Kyso rồi mở lại, tải lại trang và chọn «Cho phép» khi Kyso " +
      "hỏi. Máy do cơ quan quản lý: nhờ bộ phận IT thêm trang vào chính sách của Kyso " +
      "(allowed_origins).",
    actionEn:
      "If you trust this site: quit and restart Kyso, reload the page and choose “Allow” when " +
      "Kyso asks. On managed computers, ask IT to add the site to Kyso's policy (allowed_origins).",
  },
  USER_CANCELLED: {
    rpc: 2005,
    vi: "Người dùng đã hủy thao tác.",
    en: "The user cancelled the operation.",
    actionVi: "Không có gì được ký. Bấm lại nút ký khi sẵn sàng.",
    actionEn: "Nothing was signed. Press the sign button again when ready.",
  },
  TOO_MANY_CONNECTIONS: {
    rpc: 4009,
    vi: "Kyso đang có quá nhiều kết nối từ trình duyệt.",
    en: "Kyso has too many open connections from browsers.",
    actionVi: "Đóng bớt các thẻ trình duyệt đang dùng chữ ký số rồi tải lại trang.",
    actionEn: "Close some browser tabs that use the signing token, then reload the page.",
  },
  BUSY: {
    rpc: 4004,
    vi: "USB token đang bận với nhiều yêu cầu ký khác.",
    en: "The signing token is busy with other signing requests.",
    actionVi: "Đợi các yêu cầu đang chờ hoàn tất rồi thử lại.",
    actionEn: "Wait for the pending requests to finish, then try again.",
  },
};

/** Close code the agent uses when it refuses the page's origin on the WebSocket. */
export const CLOSE_ORIGIN_NOT_ALLOWED = 4403;
/** Close code the agent uses when it already has too many connections. */
export const CLOSE_TOO_MANY_CONNECTIONS = 4429;

const fill = fillTemplate;

/** An error the user can act on: stable `code`, Vietnamese and English text, what to do next. */
export class KysoError extends Error {
  /**
   * @param {string} code stable code (agent table or the bridge's own)
   * @param {object} [init] messageVi/messageEn/actionVi/actionEn/rpcCode/details/cause
   */
  constructor(code, init = {}) {
    const row = ERROR_TABLE[code];
    const details = init.details || {};
    const messageEn =
      init.messageEn || (row ? fill(row.en, details) : `Kyso error ${code}`);
    super(messageEn, init.cause ? { cause: init.cause } : undefined);
    this.name = "KysoError";
    this.code = code;
    this.rpcCode = init.rpcCode ?? (row ? row.rpc : undefined);
    this.messageEn = messageEn;
    this.messageVi = init.messageVi || (row ? fill(row.vi, details) : `Lỗi Kyso ${code}`);
    this.actionVi = init.actionVi ?? (row ? fill(row.actionVi, details) : "");
    this.actionEn = init.actionEn ?? (row ? fill(row.actionEn, details) : "");
    this.details = details;
  }

  /** Message and action in one sentence pair, for a status line ("vi" by default). */
  userText(lang = "vi") {
    const [message, action] =
      lang === "en" ? [this.messageEn, this.actionEn] : [this.messageVi, this.actionVi];
    return action ? `${message} ${action}` : message;
  }

  /** Plain-object form (same field names as the agent's KysoError.to_dict(), camel-cased). */
  toJSON() {
    return {
      code: this.code,
      rpcCode: this.rpcCode,
      messageVi: this.messageVi,
      messageEn: this.messageEn,
      actionVi: this.actionVi,
      actionEn: this.actionEn,
      details: this.details,
    };
  }

  /** Build from a JSON-RPC error object sent by the agent. */
  static fromRpc(error) {
    const data = error && typeof error.data === "object" && error.data !== null ? error.data : {};
    const code = typeof data.code === "string" && data.code ? data.code : "UNKNOWN_ERROR";
    const details = data.details && typeof data.details === "object" ? data.details : {};
    if (code === "UNKNOWN_ERROR" && details.detail === undefined) {
      details.detail = (error && error.message) || "JSON-RPC error";
    }
    return new KysoError(code, {
      rpcCode: typeof error?.code === "number" ? error.code : undefined,
      messageVi: data.message_vi,
      messageEn: data.message_en || (data.code ? error?.message : undefined),
      actionVi: data.action_vi,
      actionEn: data.action_en,
      details,
    });
  }

  /** Wrap anything thrown into a KysoError (KysoErrors pass through unchanged). */
  static wrap(value) {
    if (value instanceof KysoError) return value;
    const detail = value && value.message ? value.message : String(value);
    return new KysoError("UNKNOWN_ERROR", { details: { detail }, cause: value });
  }
}
