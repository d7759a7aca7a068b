"""`kat org`, `kat plugin list|enable|disable`, `kat setting`: manage the KATalogus.

They work on the catalogue files (``KAT_CATALOGUE_DIR``) with the same checks the API
makes, or, with ``KATALOGUS_API`` set, through that KATalogus's API, so both give the
same errors in the same words. Every command takes ``--json``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from kat import config
from kat.cli import OK, CommandFailed, UsageError, command
from kat.commands import katalogus_access as access


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def _org_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--org", required=True, help="organisation id")


@command
def add_org(sub: argparse._SubParsersAction) -> None:
    org = sub.add_parser("org", help="list, create or remove organisations")
    org_sub = org.add_subparsers(dest="org_command", metavar="COMMAND", required=True)
    ls = org_sub.add_parser("list", help="list organisations")
    _json_flag(ls)
    ls.set_defaults(handler=run_org_list)
    create = org_sub.add_parser("create", help="create an organisation")
    create.add_argument("id")
    create.add_argument("--name", help="display name (default: the id)")
    _json_flag(create)
    create.set_defaults(handler=run_org_create)
    rm = org_sub.add_parser("rm", help="remove an organisation and its plugin settings")
    rm.add_argument("id")
    _json_flag(rm)
    rm.set_defaults(handler=run_org_rm)


def add_plugin_commands(plugin_sub: argparse._SubParsersAction) -> None:
    """``kat plugin list|enable|disable`` (``kat plugin new`` is in scaffold.py)."""
    ls = plugin_sub.add_parser("list", help="plugins with their enabled state for --org")
    _org_flag(ls)
    ls.add_argument("--type", choices=["boefje", "normalizer"])
    _json_flag(ls)
    ls.set_defaults(handler=run_plugin_list)
    for verb in ("enable", "disable"):
        p = plugin_sub.add_parser(verb, help=f"{verb} a plugin for --org")
        _org_flag(p)
        p.add_argument("plugin", help="plugin id")
        _json_flag(p)
        p.set_defaults(handler=run_plugin_state, enabled=verb == "enable")


@command
def add_setting(sub: argparse._SubParsersAction) -> None:
    setting = sub.add_parser("setting", help="a plugin's settings for an organisation")
    s_sub = setting.add_subparsers(dest="setting_command", metavar="COMMAND", required=True)
    ls = s_sub.add_parser("list", help="every setting of PLUGIN (secrets masked)")
    get = s_sub.add_parser("get", help="one setting's value (shown in full)")
    set_ = s_sub.add_parser(
        "set",
        help="set KEY to VALUE (typed by the plugin's schema: integer, number, boolean)",
    )
    rm = s_sub.add_parser("rm", help="remove a setting")
    for p, handler in ((ls, run_setting_list), (get, run_setting_get),
                       (set_, run_setting_set), (rm, run_setting_rm)):  # fmt: skip
        _org_flag(p)
        p.add_argument("plugin", help="plugin id")
        if p is not ls:
            p.add_argument("key", help="setting name, e.g. TIMEOUT")
        if p is set_:
            p.add_argument("value")
        _json_flag(p)
        p.set_defaults(handler=handler)
    ls.add_argument("--reveal", action="store_true", help="show secret values in full")


def _backend() -> access.Backend:
    return access.open_backend(config.load())


def _run(call, *args: Any) -> Any:
    try:
        return call(*args)
    except access.AccessError as exc:
        if exc.usage:
            raise UsageError(str(exc)) from None
        raise CommandFailed(str(exc)) from None


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text)


def run_org_list(args: argparse.Namespace) -> int:
    orgs = _run(_backend().organisations)
    lines = "\n".join(f"{o['id']:<24} {o['name']}" for o in orgs) or "no organisations"
    _print(args, orgs, lines)
    return OK


def run_org_create(args: argparse.Namespace) -> int:
    org = _run(_backend().create_organisation, args.id, args.name)
    _print(args, org, f"organisation {org['id']} created")
    return OK


def run_org_rm(args: argparse.Namespace) -> int:
    _run(_backend().delete_organisation, args.id)
    _print(args, {"removed": args.id}, f"organisation {args.id} removed")
    return OK


def run_plugin_list(args: argparse.Namespace) -> int:
    plugins = _run(_backend().plugins, args.org)
    plugins = [p for p in plugins if args.type in (None, p["type"])]
    lines = [
        f"{'on ' if p['enabled'] else 'off'} {p['type']:<11} {p['id']:<32} {p['name']}"
        for p in plugins
    ]
    _print(args, plugins, "\n".join(lines))
    return OK


def run_plugin_state(args: argparse.Namespace) -> int:
    plugin = _run(_backend().set_enabled, args.org, args.plugin, args.enabled)
    state = "enabled" if plugin["enabled"] else "disabled"
    _print(args, plugin, f"{args.plugin} {state} for {args.org}")
    return OK


def _masked(key: str, value: Any) -> Any:
    from kat.console.forms import is_secret

    return "********" if is_secret(key, {}) else value


def run_setting_list(args: argparse.Namespace) -> int:
    values = _run(_backend().settings, args.org, args.plugin)
    shown = values if args.reveal else {k: _masked(k, v) for k, v in values.items()}
    lines = "\n".join(f"{k}={json.dumps(v)}" for k, v in shown.items()) or "no settings"
    _print(args, shown, lines)
    return OK


def run_setting_get(args: argparse.Namespace) -> int:
    value = _run(_backend().get_setting, args.org, args.plugin, args.key)
    _print(args, {"value": value}, value if isinstance(value, str) else json.dumps(value))
    return OK


def run_setting_set(args: argparse.Namespace) -> int:
    backend = _backend()
    value = _run(backend.typed, args.plugin, args.key, args.value)
    _run(backend.put_setting, args.org, args.plugin, args.key, value)
    _print(args, {"key": args.key, "value": value}, f"{args.plugin} {args.key} set for {args.org}")
    return OK


def run_setting_rm(args: argparse.Namespace) -> int:
    _run(_backend().delete_setting, args.org, args.plugin, args.key)
    _print(args, {"removed": args.key}, f"{args.plugin} {args.key} removed for {args.org}")
    return OK
