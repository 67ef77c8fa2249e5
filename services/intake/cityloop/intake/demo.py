"""Demo accounts for every role, a demo API key and a demo Open311 key: development and test only.

Seeded at start-up when ``IntakeSettings.demo_enabled`` (never in production: the settings refuse it).
The passwords are public on purpose; they are printed by ``make run``.
"""

from dataclasses import dataclass

from cityloop.common.db.pool import Conn
from cityloop.common.identity import Role
from cityloop.intake.accounts import store as accounts
from cityloop.intake.accounts.credentials import hash_api_key, hash_password
from cityloop.intake.open311 import store as open311


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    role: Role
    dept_code: str | None = None

    @property
    def password(self) -> str:
        return f"demo-{self.username}"


DEMO_ACCOUNTS = (
    DemoAccount("calltaker", "话务员 (demo)", Role.CALL_TAKER),
    DemoAccount("dispatcher", "派单员 (demo)", Role.DISPATCHER),
    DemoAccount("pd-sanitation", "浦东新区绿化和市容管理局 (demo)", Role.DEPARTMENT, "pd-sanitation"),
    DemoAccount("hp-sanitation", "黄浦区绿化和市容管理局 (demo)", Role.DEPARTMENT, "hp-sanitation"),
    DemoAccount("command", "城运中心 (demo)", Role.COMMAND_CENTRE),
    DemoAccount("auditor", "督办 (demo)", Role.AUDITOR),
    DemoAccount("admin", "管理员 (demo)", Role.ADMIN),
)
#: A system account, as a call centre's telephony integration would use (X-API-Key, role call_taker).
DEMO_SYSTEM = DemoAccount("hotline-cti", "热线话务系统 (demo)", Role.CALL_TAKER)
DEMO_API_KEY = "demo-hotline-cti-key"
DEMO_OPEN311_KEY = "demo-open311-key"


async def seed(conn: Conn) -> None:
    """Idempotent: creates what is missing, never changes what exists."""
    everyone = (*DEMO_ACCOUNTS, DEMO_SYSTEM)
    known = await accounts.existing_accounts(conn, [a.username for a in everyone])
    for account in DEMO_ACCOUNTS:
        if account.username not in known:
            await accounts.insert_account(
                conn,
                username=account.username,
                display_name=account.display_name,
                role=account.role.value,
                dept_code=account.dept_code,
                password_hash=hash_password(account.password),
            )
    if DEMO_SYSTEM.username not in known:
        await accounts.insert_account(
            conn,
            username=DEMO_SYSTEM.username,
            display_name=DEMO_SYSTEM.display_name,
            role=DEMO_SYSTEM.role.value,
            dept_code=None,
            password_hash=None,
        )
    await accounts.insert_api_key(
        conn, key_hash=hash_api_key(DEMO_API_KEY), username=DEMO_SYSTEM.username, label="demo"
    )
    await open311.insert_open311_client(conn, key_hash=hash_api_key(DEMO_OPEN311_KEY), name="demo civic app")


def usage(base_url: str = "http://127.0.0.1:8000") -> str:
    """What ``make run`` prints: how to sign in as each demo role and call the API."""
    width = max(len(a.username) for a in DEMO_ACCOUNTS)
    lines = [
        "Demo accounts (development only; password = demo-<username>):",
        *(
            f"  {a.username:<{width}}  {a.role.value}" + (f" of {a.dept_code}" if a.dept_code else "")
            for a in DEMO_ACCOUNTS
        ),
        "  Sign in:  TOKEN=$(curl -s -d username=calltaker -d password=demo-calltaker "
        f"{base_url}/api/v1/auth/token | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')",
        f'  Call:     curl -H "Authorization: Bearer $TOKEN" {base_url}/api/v1/tickets',
        f"  API key of a system account (call_taker): curl -H 'X-API-Key: {DEMO_API_KEY}' {base_url}/api/v1/tickets",
        f"Open311 GeoReport v2: {base_url}/open311/v2/discovery.json   demo api_key: {DEMO_OPEN311_KEY}",
        f"  curl -d api_key={DEMO_OPEN311_KEY} -d service_code=sanitation.garbage "
        f"--data-urlencode address_string=浦东新区花木街道锦绣路1001号 --data-urlencode description=垃圾未清运 "
        f"{base_url}/open311/v2/requests.json",
    ]
    return "\n".join(lines)
