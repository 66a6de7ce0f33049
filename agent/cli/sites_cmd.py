"""``kyso-agent sites list | allow | revoke``: the sites allowed to use the token (as in the tray).

The user's "always allow" answers live in ``approvals.json`` (agent/server/approvals.py); a
running agent notices a change within a second: a revoked site's open connections are closed
(4403) and its "once" answer, if it had one, ends too (the file records the revocation). Sites
named by the managed policy or config.toml are listed with their source; they are changed there,
not here.
"""

from __future__ import annotations

import argparse
from typing import Any

from agent.cli.output import print_json, table
from agent.config.settings import normalize_origin
from agent.errors import KysoError, invalid_input

HELP = """\
Các trang web được phép dùng USB token / the sites allowed to use your token.

  kyso-agent sites list                          every allowed site, and where it comes from
  kyso-agent sites list https://portal.gov.vn    is this site allowed? (exit 1 if not)
  kyso-agent sites allow https://portal.gov.vn   allow a site for good (no question next time)
  kyso-agent sites revoke https://portal.gov.vn  forget it: the site must ask again

The tray menu offers the same: Kyso icon → "Trang được phép" → a site → "Thu hồi quyền".
"""


def register(sub: Any) -> None:
    """Add ``sites`` with list, allow and revoke."""
    parser = sub.add_parser(
        "sites",
        help="list, allow or revoke the sites allowed to use your token",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=("list", "allow", "revoke"))
    parser.add_argument("origin", nargs="?", metavar="ORIGIN", help="https://host[:port]")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.set_defaults(func=run_sites)


def _origin(value: str | None) -> str:
    if not value:
        raise invalid_input(
            "give the site, e.g. https://portal.gov.vn",
            "hãy nêu địa chỉ trang, ví dụ https://portal.gov.vn",
        )
    try:
        return normalize_origin(value.strip().rstrip("/"))
    except ValueError as exc:
        raise invalid_input(
            str(exc),
            f"{exc} — địa chỉ trang phải có dạng https://tên-miền, ví dụ https://portal.gov.vn",
        ) from None


def site_rows() -> list[dict[str, Any]]:
    """Every allowed site: the user's approvals, then those the config or policy name. Under a
    policy that allows no site of the user's own (``allow_user_origins = false``) the user's
    approvals are listed as not in force: the agent refuses them."""
    from agent.config.policy import load_settings
    from agent.server.approvals import ApprovalStore

    store = ApprovalStore()
    settings = load_settings({})
    users_count = settings.allow_user_origins
    rows: list[dict[str, Any]] = [
        {
            "origin": o,
            "source": "user",
            "approved_at": store.approved_at(o),
            "in_force": users_count,
        }
        for o in sorted(store.origins)
    ]
    for origin in sorted(settings.allowed_origins):
        source = str(settings.origin_sources.get(origin, "config"))
        # "user" there means the user's config.toml, not an answer to a question.
        source = "config.toml" if source == "user" else source
        rows.append({"origin": origin, "source": source, "approved_at": "", "in_force": True})
    return rows


def _check_user_sites_allowed() -> None:
    """SETTING_LOCKED when the policy allows no site of the user's own: an approval stored now
    would say "allowed" while the agent refuses the site, and would start counting the day the
    policy is relaxed, without anyone being asked again."""
    from agent.config.policy import load_settings

    settings = load_settings({})
    if not settings.allow_user_origins:
        raise KysoError(
            "SETTING_LOCKED",
            {
                "setting": "allow_user_origins",
                "path": settings.policy_path or "policy",
                "detail": "only the sites the policy names are allowed",
                "detail_vi": "chỉ các trang chính sách nêu tên mới được phép",
            },
        )


def run_sites(args: argparse.Namespace) -> int:
    """List, allow or revoke; exit 1 when revoking a site that was not allowed."""
    from agent.server.approvals import ApprovalStore

    if args.action == "list":
        rows = site_rows()
        wanted = _origin(args.origin) if args.origin is not None else None
        if wanted is not None:  # one site asked about: its rows only, exit 1 when none
            rows = [r for r in rows if r["origin"] == wanted]
        if args.json:
            print_json({"sites": rows})
        elif wanted is not None and not rows:
            print(f"Trang {wanted} chưa được phép / {wanted} is not allowed.")
        elif not rows:
            print("Chưa có trang nào được phép / no site is allowed yet.")
        else:
            print(
                table(
                    [[r["origin"], _shown_source(r), r["approved_at"][:19]] for r in rows],
                    ["Trang / site", "Nguồn / source", "Cho phép lúc / allowed at (UTC)"],
                )
            )
        # One site asked about: exit 1 unless the agent lets it in (a user approval a policy
        # ignores is listed, and is not in force).
        return 1 if wanted is not None and not any(r["in_force"] for r in rows) else 0
    origin = _origin(args.origin)
    store = ApprovalStore()
    elsewhere: list[str] = []
    if args.action == "allow":
        _check_user_sites_allowed()
        store.add(origin)
        ok, message = True, f"Đã cho phép / allowed: {origin}"
    else:
        ok = store.remove(origin)
        message = (
            f"Đã thu hồi / revoked: {origin}"
            if ok
            else f"{origin} không có trong danh sách / was not allowed (by you) for good; "
            "quyền «một lần» (nếu có) cũng bị thu hồi / any 'once' permission ends too"
        )
        # Still allowed by config.toml or the policy: said, or "revoked" would mislead.
        elsewhere = [r["source"] for r in site_rows() if r["origin"] == origin and r["in_force"]]
        if elsewhere:
            ok = False
            message += (
                f"\nVẫn được phép theo {elsewhere[0]}: sửa ở đó để thu hồi / still allowed by "
                f"{elsewhere[0]}: change it there to revoke it"
            )
    if args.json:
        result: dict[str, Any] = {"ok": ok, "origin": origin, "action": args.action}
        if args.action == "revoke" and elsewhere:
            result["still_allowed_by"] = elsewhere[0]
        print_json(result)
    else:
        print(message)
    return 0 if ok else 1


def _shown_source(row: dict[str, Any]) -> str:
    if row["in_force"]:
        return str(row["source"])
    return "bạn, bị chính sách bỏ qua / yours, ignored by the policy"
