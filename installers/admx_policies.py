"""The Group Policy settings Kyso's ADMX templates offer: one row per registry value the agent
reads (``REGISTRY_VALUES`` in agent/config/policy.py), with the editor's words in English and
Vietnamese. installers/build_admx.py turns this table into kyso.admx and the two kyso.adml;
tests/installers/test_admx.py checks it against the agent both ways. Data only.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Text:
    """A display name and an explanation, in English and Vietnamese."""

    en: str
    vi: str
    en_explain: str
    vi_explain: str


@dataclass(frozen=True)
class Policy:
    """One registry value the agent reads, as Group Policy shows it.

    kind: ``list`` (subkey ``<name>`` with values "1", "2", ...), ``bool`` (DWORD 0/1),
    ``dword`` (DWORD within ``minimum``..``maximum``), ``text`` (REG_SZ) or ``enum`` (REG_SZ,
    one of ``items``).
    """

    name: str
    kind: str
    text: Text
    label: tuple[str, str] = ("", "")  # the presentation's label (en, vi)
    minimum: int = 0
    maximum: int = 0
    default: int | None = None
    max_length: int = 2048  # for text
    items: tuple[tuple[str, str, str], ...] = field(default=())  # (value, en, vi)


POLICIES: tuple[Policy, ...] = (
    Policy(
        "AllowedOrigins",
        "list",
        Text(
            "Portals allowed without asking",
            "Các cổng thông tin được dùng mà không cần hỏi",
            "The https origins (scheme://host[:port], no path), for example "
            "https://dichvucong.baohiemxahoi.gov.vn, that may use the agent without the user "
            "approving them first. They are added to the user's own list unless the policy "
            "'Let users approve other portals' is disabled.",
            "Các origin https (scheme://tên-máy[:cổng], không có đường dẫn), ví dụ "
            "https://dichvucong.baohiemxahoi.gov.vn, được dùng tác nhân ký mà người dùng không "
            "cần chấp thuận trước. Danh sách này được cộng vào danh sách của người dùng, trừ khi "
            "chính sách “Cho phép người dùng chấp thuận cổng thông tin khác” bị tắt.",
        ),
        label=("Origins (one per line):", "Các origin (mỗi dòng một origin):"),
    ),
    Policy(
        "SignHashOrigins",
        "list",
        Text(
            "Portals allowed to sign a raw hash",
            "Các cổng thông tin được ký trực tiếp giá trị băm",
            "The origins that may call sign.hash, which signs a hash supplied by the page: the "
            "agent never sees the document behind it. No portal may do this by default; list "
            "only portals you trust to show the user what is being signed.",
            "Các origin được gọi sign.hash: ký một giá trị băm do trang web đưa vào, tác nhân "
            "không thấy tài liệu gốc. Mặc định không cổng nào được phép; chỉ liệt kê những cổng "
            "mà bạn tin là cho người dùng thấy đúng nội dung được ký.",
        ),
        label=("Origins (one per line):", "Các origin (mỗi dòng một origin):"),
    ),
    Policy(
        "TimestampUrl",
        "text",
        Text(
            "Timestamp server (RFC 3161)",
            "Máy chủ cấp dấu thời gian (RFC 3161)",
            "The http(s) address of the RFC 3161 timestamp authority used for PDF (PAdES-B-T) "
            "and CMS (CAdES-T) signatures. Empty: signatures carry no timestamp.",
            "Địa chỉ http(s) của máy chủ cấp dấu thời gian RFC 3161 dùng cho chữ ký PDF "
            "(PAdES-B-T) và CMS (CAdES-T). Để trống: chữ ký không có dấu thời gian.",
        ),
        label=("Address:", "Địa chỉ:"),
    ),
    Policy(
        "PdfLongTerm",
        "bool",
        Text(
            "Long-term PDF signatures (PAdES-B-LT)",
            "Chữ ký PDF dài hạn (PAdES-B-LT)",
            "Enabled: PDF signatures also carry the signer's certificate chain and the CA's "
            "revocation answers (OCSP/CRL), so they can be checked after the certificate "
            "expires. Needs a timestamp server; when the revocation data cannot be fetched the "
            "signature is PAdES-B-T and the result says why.",
            "Bật: chữ ký PDF kèm theo chuỗi chứng thư số của người ký và thông tin thu hồi "
            "(OCSP/CRL) của tổ chức chứng thực, để vẫn kiểm tra được sau khi chứng thư số hết "
            "hạn. Cần có máy chủ cấp dấu thời gian; khi không lấy được thông tin thu hồi, chữ "
            "ký là PAdES-B-T và kết quả nêu rõ lý do.",
        ),
    ),
    Policy(
        "PdfSeals",
        "text",
        Text(
            "Seal image per certificate (PDF)",
            "Ảnh con dấu theo chứng thư số (PDF)",
            "A JSON object mapping a certificate's SHA-256 thumbprint to the path of a PNG "
            'seal image drawn in its visible PDF signatures, for example {"3f2a…": '
            r'"C:\\Kyso\\con-dau.png"}. Empty or not configured: users set their own.',
            "Đối tượng JSON gán dấu vân tay SHA-256 của chứng thư số với đường dẫn ảnh con dấu "
            'PNG được vẽ trong chữ ký PDF hiển thị, ví dụ {"3f2a…": '
            r'"C:\\Kyso\\con-dau.png"}. Để trống hoặc chưa cấu hình: người dùng tự đặt.',
        ),
        label=("JSON:", "JSON:"),
        max_length=8192,
    ),
    Policy(
        "AllowUserOrigins",
        "bool",
        Text(
            "Let users approve other portals",
            "Cho phép người dùng chấp thuận cổng thông tin khác",
            "Enabled or not configured: a portal that is not in the list asks the user once. "
            "Disabled: only the portals in 'Portals allowed without asking' may use the agent; "
            "any other portal is refused without asking the user.",
            "Bật hoặc chưa cấu hình: cổng thông tin chưa có trong danh sách sẽ hỏi người dùng một "
            "lần. Tắt: chỉ các cổng trong chính sách “Các cổng thông tin được dùng mà không cần "
            "hỏi” được dùng tác nhân; mọi cổng khác bị từ chối mà không hỏi người dùng.",
        ),
    ),
    Policy(
        "Pkcs11Modules",
        "list",
        Text(
            "Extra PKCS#11 modules (token drivers)",
            "Mô-đun PKCS#11 bổ sung (trình điều khiển token)",
            "Full paths of PKCS#11 modules to load besides the built-in list, for example "
            r"C:\Windows\System32\vnptca_p11_v8.dll. The agent is a 64-bit program: name the "
            "64-bit module of your token's driver.",
            "Đường dẫn đầy đủ của các mô-đun PKCS#11 cần nạp thêm ngoài danh sách có sẵn, ví dụ "
            r"C:\Windows\System32\vnptca_p11_v8.dll. Tác nhân là chương trình 64-bit: hãy chỉ "
            "định mô-đun 64-bit trong bộ cài trình điều khiển token.",
        ),
        label=("Module paths (one per line):", "Đường dẫn mô-đun (mỗi dòng một đường dẫn):"),
    ),
    Policy(
        "Port",
        "dword",
        Text(
            "Listening port",
            "Cổng lắng nghe",
            "The port of the agent's local https/wss server on 127.0.0.1 (default 27443, then "
            "27444 and 27445). Portal pages look for the agent on these ports: change it only "
            "when another program uses them.",
            "Cổng của máy chủ https/wss cục bộ của tác nhân trên 127.0.0.1 (mặc định 27443, sau "
            "đó 27444 và 27445). Trang của cổng thông tin tìm tác nhân qua các cổng này: chỉ đổi "
            "khi có chương trình khác đang dùng chúng.",
        ),
        label=("Port:", "Cổng:"),
        minimum=1,
        maximum=65535,
        default=27443,
    ),
    Policy(
        "PortRange",
        "text",
        Text(
            "Port range for terminal servers",
            "Dải cổng cho máy chủ nhiều người dùng",
            "For terminal servers (Remote Desktop Services), where every signed-in user runs "
            "an agent: a range 'LO-HI', for example 27450-27549. Each user's agent listens on "
            "a free port of the range (its first choice comes from the user's SID, so it "
            "usually keeps the same port), and the diagnostic ping tells a portal page of the "
            "same user which port it is. Give at least one port per user who may be signed in "
            "at once. Ignored when 'Listening port' is set. Empty or not configured: the "
            "default port 27443, then 27444 and 27445.",
            "Dành cho máy chủ nhiều người dùng (Remote Desktop Services), nơi mỗi người đăng "
            "nhập chạy một tác nhân: một dải cổng 'ĐẦU-CUỐI', ví dụ 27450-27549. Tác nhân của "
            "mỗi người lắng nghe trên một cổng còn trống trong dải (cổng được chọn trước tiên "
            "tính từ SID của người dùng, nên thường giữ nguyên cổng); cổng kiểm tra kết nối "
            "chỉ cho trang web do chính người dùng đó mở biết tác nhân của họ ở cổng nào. Dải cần có "
            "ít nhất một cổng cho mỗi người có thể đăng nhập cùng lúc. Bị bỏ qua khi chính sách "
            "“Cổng lắng nghe” được đặt. Để trống hoặc chưa cấu hình: cổng mặc định 27443, sau "
            "đó 27444 và 27445.",
        ),
        label=("Range (LO-HI):", "Dải cổng (ĐẦU-CUỐI):"),
        max_length=11,
    ),
    Policy(
        "PingPort",
        "dword",
        Text(
            "Diagnostic ping port",
            "Cổng kiểm tra kết nối",
            "A plain-http port answering GET /v1/ping, so that a page can tell 'the agent is not "
            "running' from 'its certificate is not trusted' (default 27442; 0 turns it off).",
            "Cổng http thường trả lời GET /v1/ping, giúp trang web phân biệt “tác nhân chưa "
            "chạy” với “chứng thư của tác nhân chưa được tin cậy” (mặc định 27442; 0 để tắt).",
        ),
        label=("Port:", "Cổng:"),
        minimum=0,
        maximum=65535,
        default=27442,
    ),
    Policy(
        "PinCacheEnabled",
        "bool",
        Text(
            "Keep the token logged in between signatures",
            "Giữ token ở trạng thái đăng nhập giữa các lần ký",
            "Enabled: once the PIN is entered, the token stays logged in until it has been idle "
            "for the time set in 'Log out an idle token after'. Disabled or not configured: the "
            "PIN is asked for every signing operation.",
            "Bật: sau khi nhập mã PIN, token được giữ đăng nhập cho đến khi không được dùng quá "
            "thời gian đặt trong chính sách “Đăng xuất token không dùng sau”. Tắt hoặc chưa cấu "
            "hình: mỗi lần ký đều hỏi mã PIN.",
        ),
    ),
    Policy(
        "PinCacheIdleSeconds",
        "dword",
        Text(
            "Log out an idle token after",
            "Đăng xuất token không dùng sau",
            "Seconds without a signature (10 to 28800) after which a token kept logged in is "
            "logged out (default 300).",
            "Số giây không ký (từ 10 đến 28800) mà sau đó token đang được giữ đăng nhập sẽ bị "
            "đăng xuất (mặc định 300).",
        ),
        label=("Seconds:", "Số giây:"),
        minimum=10,
        maximum=28800,
        default=300,
    ),
    Policy(
        "Prompter",
        "enum",
        Text(
            "How the agent asks the user",
            "Cách tác nhân hỏi người dùng",
            "Where the consent, pairing and PIN questions appear: dialog windows for desktop "
            "users (the default), or the terminal for an agent started from a console.",
            "Nơi hiện các câu hỏi đồng ý ký, ghép nối và mã PIN: hộp thoại cho người dùng máy "
            "tính (mặc định), hoặc cửa sổ dòng lệnh khi tác nhân được chạy từ cửa sổ dòng lệnh.",
        ),
        label=("Ask through:", "Hỏi qua:"),
        items=(
            ("dialog", "Dialog windows", "Hộp thoại"),
            ("terminal", "Terminal", "Cửa sổ dòng lệnh"),
        ),
    ),
    Policy(
        "MaxDocumentBytes",
        "dword",
        Text(
            "Largest document accepted (bytes)",
            "Kích thước tài liệu tối đa (byte)",
            "The largest document (after decoding) a page may send for signing, in bytes: 1024 "
            "to 2147483648, default 52428800 (50 MB).",
            "Kích thước lớn nhất của tài liệu (sau khi giải mã) mà trang web được gửi để ký, "
            "tính bằng byte: từ 1024 đến 2147483648, mặc định 52428800 (50 MB).",
        ),
        label=("Bytes:", "Số byte:"),
        minimum=1024,
        maximum=2**31,
        default=50 * 1024 * 1024,
    ),
    Policy(
        "MaxConnections",
        "dword",
        Text(
            "Open WebSocket connections",
            "Số kết nối WebSocket đồng thời",
            "The largest number of WebSocket connections open at once (1 to 10000; default 64).",
            "Số kết nối WebSocket được mở cùng lúc tối đa (từ 1 đến 10000; mặc định 64).",
        ),
        label=("Connections:", "Số kết nối:"),
        minimum=1,
        maximum=10000,
        default=64,
    ),
    Policy(
        "MaxTcpConnections",
        "dword",
        Text(
            "TCP connections per listening socket",
            "Số kết nối TCP trên mỗi cổng lắng nghe",
            "Open TCP connections allowed per listening socket (8 to 4096; default 128). The "
            "ping port gets an eighth of it, at least 4; never more than an eighth of the "
            "open-file limit.",
            "Số kết nối TCP được mở cùng lúc trên mỗi cổng lắng nghe (từ 8 đến 4096; mặc định "
            "128). Cổng kiểm tra kết nối được một phần tám số này, tối thiểu 4; không bao giờ "
            "vượt quá một phần tám giới hạn số tệp được mở.",
        ),
        label=("Connections:", "Số kết nối:"),
        minimum=8,
        maximum=4096,
        default=128,
    ),
    Policy(
        "HeaderTimeoutSeconds",
        "dword",
        Text(
            "Time limit for a new connection's handshake and headers",
            "Thời hạn bắt tay và gửi tiêu đề của kết nối mới",
            "A new connection must finish TLS, then send its request headers, each within this "
            "many seconds (1 to 300; default 10).",
            "Một kết nối mới phải hoàn tất TLS, rồi gửi xong tiêu đề yêu cầu, mỗi bước trong số "
            "giây này (từ 1 đến 300; mặc định 10).",
        ),
        label=("Seconds:", "Số giây:"),
        minimum=1,
        maximum=300,
        default=10,
    ),
    Policy(
        "IdleTimeoutSeconds",
        "dword",
        Text(
            "Close idle HTTP connections after",
            "Đóng kết nối HTTP không hoạt động sau",
            "An HTTP connection waiting for its next request is closed after this many seconds "
            "(1 to 3600; default 15).",
            "Kết nối HTTP đang chờ yêu cầu tiếp theo sẽ bị đóng sau số giây này (từ 1 đến 3600; "
            "mặc định 15).",
        ),
        label=("Seconds:", "Số giây:"),
        minimum=1,
        maximum=3600,
        default=15,
    ),
    Policy(
        "WsHeartbeatSeconds",
        "dword",
        Text(
            "WebSocket heartbeat interval",
            "Chu kỳ kiểm tra kết nối WebSocket",
            "Seconds between WebSocket pings; a connection that does not answer within half of "
            "it is closed (2 to 600; default 30).",
            "Số giây giữa hai lần gửi ping WebSocket; kết nối không trả lời trong một nửa khoảng "
            "thời gian này sẽ bị đóng (từ 2 đến 600; mặc định 30).",
        ),
        label=("Seconds:", "Số giây:"),
        minimum=2,
        maximum=600,
        default=30,
    ),
    Policy(
        "MaxQueue",
        "dword",
        Text(
            "Operations waiting per token",
            "Số thao tác chờ trên mỗi token",
            "Signing operations that may wait for one token before new ones are refused as busy "
            "(0 to 1000; default 4).",
            "Số thao tác ký được xếp hàng chờ một token trước khi thao tác mới bị từ chối vì "
            "token đang bận (từ 0 đến 1000; mặc định 4).",
        ),
        label=("Operations:", "Số thao tác:"),
        minimum=0,
        maximum=1000,
        default=4,
    ),
    Policy(
        "MaxPendingPerOrigin",
        "dword",
        Text(
            "Signing requests per portal",
            "Số yêu cầu ký của mỗi cổng thông tin",
            "Signing requests one portal may have waiting or running at once (1 to 1000; "
            "default 1).",
            "Số yêu cầu ký mà một cổng thông tin được có cùng lúc, kể cả đang chờ và đang chạy "
            "(từ 1 đến 1000; mặc định 1).",
        ),
        label=("Requests:", "Số yêu cầu:"),
        minimum=1,
        maximum=1000,
        default=1,
    ),
    Policy(
        "PromptTimeoutSeconds",
        "dword",
        Text(
            "How long a question waits for the user",
            "Thời gian chờ người dùng trả lời",
            "Seconds a consent, pairing or PIN question waits for the user before it is "
            "cancelled (1 to 3600; default 120).",
            "Số giây một câu hỏi (đồng ý ký, ghép nối, mã PIN) chờ người dùng trả lời trước khi "
            "bị hủy (từ 1 đến 3600; mặc định 120).",
        ),
        label=("Seconds:", "Số giây:"),
        minimum=1,
        maximum=3600,
        default=120,
    ),
    Policy(
        "MstMismatch",
        "enum",
        Text(
            "When the dossier's tax code differs from the certificate's",
            "Khi mã số thuế của hồ sơ khác với mã số thuế trên chứng thư số",
            "What the agent does when the tax code (MST) in the document is not the one in the "
            "signing certificate: warn the user (in red, in the consent question; the default) "
            "or refuse to sign.",
            "Việc tác nhân làm khi mã số thuế (MST) trong tài liệu không trùng với mã số thuế "
            "trên chứng thư số dùng để ký: cảnh báo người dùng (chữ đỏ trong câu hỏi đồng ý ký; "
            "mặc định) hoặc từ chối ký.",
        ),
        label=("Action:", "Xử lý:"),
        items=(
            ("warn", "Warn the user", "Cảnh báo người dùng"),
            ("refuse", "Refuse to sign", "Từ chối ký"),
        ),
    ),
    Policy(
        "RemoteProviders",
        "text",
        Text(
            "Remote signing services (CSC API v2)",
            "Dịch vụ ký số từ xa (CSC API v2)",
            "A JSON list of remote signing services, one object per service with name, "
            'base_url, client_id and auth_flow, for example [{"name": "...", "base_url": '
            '"https://...", "client_id": "...", "auth_flow": "..."}]. Empty or not configured: '
            "no remote service.",
            "Danh sách JSON các dịch vụ ký số từ xa, mỗi dịch vụ là một đối tượng có name, "
            'base_url, client_id và auth_flow, ví dụ [{"name": "...", "base_url": '
            '"https://...", "client_id": "...", "auth_flow": "..."}]. Để trống hoặc chưa cấu '
            "hình: không dùng dịch vụ từ xa nào.",
        ),
        label=("JSON:", "JSON:"),
        max_length=8192,
    ),
    Policy(
        "AllowHttpLocalhost",
        "bool",
        Text(
            "Developers only: accept http://localhost portals",
            "Chỉ dành cho nhà phát triển: chấp nhận cổng http://localhost",
            "Enabled: http://localhost origins are accepted, for developing a portal. Leave it "
            "disabled on users' computers.",
            "Bật: chấp nhận các origin http://localhost, dùng khi phát triển cổng thông tin. Hãy "
            "để tắt trên máy tính của người dùng.",
        ),
    ),
)

CATEGORY = Text(
    "Kyso signing agent",
    "Tác nhân ký số Kyso",
    "",
    "",
)
SUPPORTED = ("Kyso Agent 0.1 or later", "Kyso Agent 0.1 trở lên")
DESCRIPTION = (
    "Group Policy settings for the Kyso local signing agent.",
    "Các thiết lập Group Policy cho tác nhân ký số cục bộ Kyso.",
)
