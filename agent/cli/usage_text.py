"""argparse's usage errors in Vietnamese, for INPUT_INVALID's ``detail_vi``.

argparse words its errors in English only; a command line mistake is the error a user meets
first, so the common sentences are said again in Vietnamese, with the options and values they
name kept as typed. A sentence not known here (a newer Python's wording) keeps its English
after a Vietnamese lead, rather than being dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

# Messages of the argparse module (Python 3.11 and 3.12), most specific first.
_INNER: list[_Rule] = [
    (re.compile(r"expected one argument$"), lambda m: "cần một giá trị đi kèm"),
    (re.compile(r"expected at most one argument$"), lambda m: "chỉ nhận tối đa một giá trị"),
    (re.compile(r"expected at least one argument$"), lambda m: "cần ít nhất một giá trị"),
    (re.compile(r"expected (\d+) arguments?$"), lambda m: f"cần {m[1]} giá trị"),
    (
        re.compile(r"invalid choice: (.*) \(choose from (.*)\)$", re.S),
        lambda m: f"{m[1]} không phải một lựa chọn hợp lệ (chọn một trong: {m[2]})",
    ),
    (
        re.compile(r"invalid \S+ value: (.*)$", re.S),
        lambda m: f"giá trị {m[1]} không hợp lệ",
    ),
    (
        re.compile(r"not allowed with argument (.*)$", re.S),
        lambda m: f"không dùng chung được với {m[1]}",
    ),
    (
        re.compile(r"ignored explicit argument (.*)$", re.S),
        lambda m: f"không nhận giá trị {m[1]}",
    ),
    # Kyso's own type= functions (agent/cli): their sentences name the value refused.
    (
        re.compile(r"(.*) is not a port number \(1 to 65535\)$", re.S),
        lambda m: f"{m[1]} không phải một số cổng (từ 1 đến 65535)",
    ),
    (
        re.compile(r"(.*) is not an http:// or https:// address of a timestamp authority$", re.S),
        lambda m: f"{m[1]} không phải địa chỉ http:// hay https:// của máy chủ cấp dấu thời gian",
    ),
    (
        re.compile(r"not a number of seconds from 1 to 86400: (.*)$", re.S),
        lambda m: f"{m[1]} không phải số giây từ 1 đến 86400",
    ),
    (
        re.compile(r"give 1 to 64 hex digits of the document's SHA-256$"),
        lambda m: "hãy ghi từ 1 đến 64 chữ số hệ 16 của mã SHA-256 của tài liệu",
    ),
    (re.compile(r"N must be 0 \(all\) or more$"), lambda m: "N phải từ 0 (tất cả) trở lên"),
    (
        re.compile(r"give a site: an origin or a host name$"),
        lambda m: "hãy nêu một trang: địa chỉ gốc (https://…) hoặc tên miền",
    ),
]

_OUTER: list[_Rule] = [
    (
        re.compile(r"unrecognized arguments: (.*)$", re.S),
        lambda m: f"không hiểu tham số: {m[1]}",
    ),
    (
        re.compile(r"the following arguments are required: (.*)$", re.S),
        lambda m: f"còn thiếu tham số bắt buộc: {m[1]}",
    ),
    (
        re.compile(r"one of the arguments (.*) is required$", re.S),
        lambda m: f"cần một trong các tham số: {m[1]}",
    ),
    (
        re.compile(r"ambiguous option: (\S+) could match (.*)$", re.S),
        lambda m: f"tùy chọn {m[1]} chưa rõ, có thể là: {m[2]}",
    ),
    (
        re.compile(r"argument (.*?): (.*)$", re.S),
        lambda m: f"tham số {m[1]}: {_inner(m[2])}",
    ),
]


def _inner(text: str) -> str:
    for pattern, say in _INNER:
        found = pattern.match(text)
        if found:
            return say(found)
    return text  # a type function's own sentence (Kyso's, with the value it refused)


def usage_error_vi(message: str) -> str:
    """The Vietnamese for one argparse error ``message`` (a clause, as INPUT_INVALID's
    ``detail_vi``): the options, values and choices it names are kept as they are."""
    for pattern, say in _OUTER:
        found = pattern.match(message)
        if found:
            return say(found)
    return f"lỗi cú pháp lệnh ({message})"
