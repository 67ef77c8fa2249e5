"""The citizen's one-time callback page: small server-rendered HTML in Chinese, usable on a phone without
JavaScript (plain form, large tap targets). Every value put into the page goes through ``html.escape``."""

from html import escape

from cityloop.common.contract.callbacks import Satisfaction, UnsatisfiedReason

SATISFACTION_LABELS = {
    Satisfaction.SATISFIED: "满意",
    Satisfaction.BASICALLY_SATISFIED: "基本满意",
    Satisfaction.UNSATISFIED: "不满意",
}
REASON_LABELS = {
    UnsatisfiedReason.NOT_HANDLED: "没有处理",
    UnsatisfiedReason.POORLY_HANDLED: "处理不到位",
    UnsatisfiedReason.TOO_SLOW: "办理拖延",
    UnsatisfiedReason.ATTITUDE: "工作态度差",
    UnsatisfiedReason.UNREASONABLE_DEMAND: "诉求超出政策范围",
    UnsatisfiedReason.POLICY_LIMIT: "受政策限制无法解决",
    UnsatisfiedReason.OTHER: "其他",
}
STATE_MESSAGES = {
    "used": "此链接已经使用过，感谢您的评价。",
    "expired": "此链接已失效。如需评价，请拨打 12345 热线。",
    "closed": "此次回访已经完成，无需再次评价。",
}

# Headers for every page: the token in the address must not leak through a Referer, a cache or a search engine.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}

_STYLE = """
body{margin:0;font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;background:#f4f6f8;
color:#1f2933;font-size:18px;line-height:1.5}
main{max-width:480px;margin:0 auto;padding:16px}
h1{font-size:22px;margin:8px 0 4px}
p.lead{margin:0 0 12px;color:#52606d;font-size:16px}
fieldset{border:0;background:#fff;border-radius:12px;margin:0 0 12px;padding:12px 14px}
legend{font-weight:bold;padding:0;margin-bottom:8px;float:left;width:100%}
label.choice{display:flex;align-items:center;min-height:48px;padding:0 12px;margin:6px 0;border:1px solid #cbd2d9;
border-radius:10px;background:#fff}
label.choice input{width:24px;height:24px;margin:0 12px 0 0}
textarea{width:100%;box-sizing:border-box;min-height:96px;font-size:18px;padding:10px;border:1px solid #cbd2d9;
border-radius:10px}
button{width:100%;min-height:56px;font-size:20px;border:0;border-radius:12px;background:#0b69a3;color:#fff}
p.error{background:#fde8e8;color:#9b1c1c;border-radius:10px;padding:10px 12px}
p.hint{font-size:15px;color:#52606d;margin:4px 0 0;clear:both}
"""


def _document(title: str, body: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def _choices(name: str, options: list[tuple[str, str]], chosen: str | None) -> str:
    return "".join(
        f'<label class="choice"><input type="radio" name="{name}" value="{escape(value)}"'
        f"{' checked' if value == chosen else ''}>{escape(label)}</label>"
        for value, label in options
    )


def form(action: str, *, error: str | None = None, values: dict[str, str] | None = None) -> str:
    """The questions of a callback, posted back to ``action`` (the page's own address)."""
    values = values or {}
    error_html = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = (
        "<h1>12345 热线回访</h1>"
        '<p class="lead">您反映的问题，承办单位已答复办理完毕。请告诉我们办理结果，本链接仅可提交一次。</p>'
        f"{error_html}"
        f'<form method="post" action="{escape(action)}">'
        "<fieldset><legend>1. 您反映的问题解决了吗？</legend>"
        + _choices("solved", [("yes", "已解决"), ("no", "未解决")], values.get("solved"))
        + "</fieldset><fieldset><legend>2. 您对办理结果满意吗？</legend>"
        + _choices(
            "satisfaction", [(s.value, label) for s, label in SATISFACTION_LABELS.items()], values.get("satisfaction")
        )
        + "</fieldset><fieldset><legend>3. 如不满意，主要原因是：</legend>"
        + _choices("reason", [(r.value, label) for r, label in REASON_LABELS.items()], values.get("reason"))
        + '<p class="hint">选择“满意”或“基本满意”时无需填写。</p></fieldset>'
        '<fieldset><legend><label for="note">4. 其他意见（选填）</label></legend>'
        f'<textarea id="note" name="note" maxlength="2000">{escape(values.get("note", ""))}</textarea></fieldset>'
        '<button type="submit">提交评价</button></form>'
    )
    return _document("12345 热线回访", body)


def thanks(*, rehandle: bool) -> str:
    follow = "我们将督促承办单位重新办理，并再次回访。" if rehandle else "本次诉求已办结。"
    return _document("感谢您的评价", f'<h1>感谢您的评价</h1><p class="lead">{follow}</p>')


def closed(state: str) -> str:
    message = STATE_MESSAGES.get(state, STATE_MESSAGES["expired"])
    return _document("12345 热线回访", f'<h1>12345 热线回访</h1><p class="lead">{escape(message)}</p>')
