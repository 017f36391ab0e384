"""`hotline users add|passwd|list`: workspace accounts (qa, supervisor, admin)."""

from __future__ import annotations

import click

from hotline.settings import Settings
from store.models_review import ROLES


def _sessions() -> object:
    from store.db import make_engine, migrate, session_factory

    engine = make_engine(Settings.from_env().database_url)
    migrate(engine)
    return session_factory(engine)


@click.group()
def users() -> None:
    """Accounts of the QA workspace (/qa)."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="qa (质检员), supervisor (主管), admin")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="at least 10 characters")
@click.option("--team", default="", help="the supervisor's team (default team on the sampling page)")
def add(name: str, role: str, password: str, team: str) -> None:
    """Create an account; the password is stored only as a salted hash."""
    from store import users as repo
    from store.audit import audit
    from store.db import transaction
    from store.errors import ReviewError

    with transaction(_sessions()) as s:  # type: ignore[arg-type]
        try:
            u = repo.create_user(s, name, role, password, team)
        except ReviewError as exc:
            raise click.ClickException(str(exc)) from None
        audit(s, None, "change", "user", u.id, created=name, role=role)
        uid = u.id
    click.echo(f"user {name} ({role}) created, id {uid}")


@users.command("passwd")
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="at least 10 characters")
@click.option("--role", type=click.Choice(ROLES), default=None)
def passwd(name: str, password: str, role: str | None) -> None:
    """Set a new password (and optionally a new role); the user's open sessions end."""
    from store import users as repo
    from store.audit import audit
    from store.db import transaction
    from store.errors import ReviewError

    with transaction(_sessions()) as s:  # type: ignore[arg-type]
        try:
            u = repo.set_password(s, name, password, role)
        except ReviewError as exc:
            raise click.ClickException(str(exc)) from None
        audit(s, None, "change", "user", u.id, password=True, role=role or "")
    click.echo(f"user {name} updated")


@users.command("unlock")
@click.argument("name", required=False, default="")
@click.option("--address", default="", help="unlock a client address (IP) instead of / as well as an account")
def unlock(name: str, address: str) -> None:
    """Lift the login back-off of an account (after too many wrong passwords) or of an address."""
    from store import users as repo
    from store.audit import audit
    from store.db import transaction

    if not name and not address:
        raise click.UsageError("give an account NAME or --address IP")
    keys = ([f"user:{name}"] if name else []) + ([f"addr:{address}"] if address else [])
    with transaction(_sessions()) as s:  # type: ignore[arg-type]
        n = repo.clear_login_failures(s, keys)
        audit(s, None, "unlock", "login", "cli", target=", ".join(keys), cleared=n)
    what = " and ".join(x for x in (name and f"account {name}", address and f"address {address}") if x)
    click.echo(f"{what}: unlocked" if n else f"{what}: was not locked")


@users.command("list")
def list_() -> None:
    from store import users as repo
    from store.db import transaction

    with transaction(_sessions()) as s:  # type: ignore[arg-type]
        for u in repo.list_users(s):
            click.echo(f"{u.id}\t{u.name}\t{u.role}\t{u.team}")
