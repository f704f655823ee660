"""``ollm doctor``: what this machine has, what the llama.cpp build can do, every model found,
and each model's tier plan with its reasons. Headless: imports neither Textual nor Rich."""

from __future__ import annotations

import json
import sys
from typing import Any

from ollm_tui.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, err, is_terminal, store_exit
from ollm_tui.core.hardware import DeviceMemory, HardwareProbe, format_bytes
from ollm_tui.core.tiers import TierError, TierPlan
from ollm_tui.settings import Settings


def _device(d: DeviceMemory) -> dict[str, Any]:
    return {
        "label": d.label,
        "kind": d.kind,
        "name": d.name,
        "vendor": d.vendor or None,
        "driver": d.driver,
        "total_bytes": d.total,
        "used_bytes": d.used,
        "free_bytes": d.free,
    }


def _plan(plan: TierPlan) -> dict[str, Any]:
    return {
        "device": plan.device.label,
        "available_bytes": plan.available,
        "memory_budget_bytes": plan.budget,
        "auto": plan.auto.label,
        "chosen": plan.chosen.label,
        "manual": plan.manual,
        "reason": plan.reason,
        "notes": list(plan.notes),
        "sizes": [
            {
                "size": o.label,
                "tier": o.tier,
                "tier_name": o.tier_name,
                "n_ctx": o.n_ctx,
                "need_bytes": o.need,
                "weights_bytes": o.plan.weights,
                "kv_bytes": o.plan.kv,
                "runtime_bytes": o.plan.runtime,
                "gpu_layers": o.plan.gpu_layers,
                "fits": o.fits,
                "warning": o.warn,
            }
            for o in plan.options
        ],
    }


def doctor_report(settings: Settings, probe: HardwareProbe | None = None) -> dict[str, Any]:
    """Everything ``ollm doctor`` prints, as a JSON-ready dict."""
    from ollm_tui.engine.planning import build_features, load_all_profiles, place
    from ollm_tui.engine.registry import discover

    snap = (probe or HardwareProbe()).snapshot()
    features = build_features()
    profiles = load_all_profiles(settings)
    offload = bool(snap.gpus) and features.gpu_offload
    models = []
    for entry in discover(settings):
        row: dict[str, Any] = {
            "name": entry.name,
            "path": str(entry.path),
            "source": entry.source,
            "size_bytes": entry.size_bytes,
            "usable": entry.usable,
            "error": entry.error,
            "note": entry.note,
        }
        if entry.info is not None:
            i = entry.info
            row.update(
                architecture=i.architecture,
                quantization=i.quantization,
                parameters=i.parameter_count,
                context_length=i.context_length,
                chat_template=i.has_chat_template,
            )
            try:
                row["plan"] = _plan(place(settings, i, snap, profiles, gpu_offload=offload).plan)
            except TierError as exc:
                row["plan_error"] = str(exc)
        models.append(row)
    return {
        "probes": {
            "gpus": [_device(g) for g in snap.gpus],
            "ram": _device(snap.ram),
            "process_rss_bytes": snap.process_rss,
            "notes": list(snap.notes),
            "elapsed_s": round(snap.elapsed_s, 4),
        },
        "build": {"gpu_offload": features.gpu_offload, "system_info": features.system_info},
        "settings": {
            "tier": "auto" if settings.tier is None else f"{settings.tier // 1024}k",
            "memory_budget_bytes": settings.memory_budget,
            "context_override": settings.context_size if settings.context_explicit else None,
        },
        "profile_errors": list(profiles.errors),
        "models": models,
        "token_cache": _token_cache(settings),
        "database": database_state(settings),
    }


def database_state(settings: Settings) -> dict[str, Any]:
    """The chat database: ``state`` (ok, missing, damaged, unusable, error), its path, and
    for a damaged one what can be done (set it aside under a dated name; never deleted)."""
    from ollm_tui.cli.chat import open_store
    from ollm_tui.store.db import SET_ASIDE_HOW, DatabaseDamaged, StoreError, StoreUnusable

    path = settings.db_path
    out: dict[str, Any] = {"path": str(path), "state": "ok", "detail": None, "advice": None}
    if not path.exists() and (path.parent.is_dir() or not path.parent.exists()):
        out["state"] = "missing"
        out["detail"] = "no chats yet: the first chat creates it"
        return out
    try:
        open_store(settings).close()
    except DatabaseDamaged as exc:
        out.update(
            state="damaged",
            detail=str(exc),
            advice=(
                f"{SET_ASIDE_HOW[0].upper()}{SET_ASIDE_HOW[1:]}: either renames it (with its "
                f"-wal and -shm) to {path.name}.damaged-DATE-TIME beside it after you say yes, "
                "and ollm starts a fresh database; the old chats stay in that file for "
                "recovery tools such as `sqlite3 FILE .recover`. ollm never renames or "
                "deletes it without your yes"
            ),
        )
    except StoreUnusable as exc:
        out.update(state="unusable", detail=str(exc))
    except StoreError as exc:
        out.update(state="error", detail=str(exc))
    return out


def cmd_set_aside_db(settings: Settings, yes: bool, answer: Any = input) -> int:
    """``ollm doctor --set-aside-db``: rename a damaged chat database to a dated name, after
    a y/N question on a terminal or with ``--yes``. Exit 0 when it was set aside; 1 when
    the database is not damaged or the answer was no; 2 without a terminal or ``--yes``."""
    from ollm_tui.store.db import StoreError
    from ollm_tui.store.sqlite import set_aside

    state = database_state(settings)
    if state["state"] != "damaged":
        err(
            f"the chat database {state['path']} is {state['state']}, not damaged: "
            "nothing to set aside" + (f" ({state['detail']})" if state["detail"] else "")
        )
        return EXIT_FAILURE
    path = settings.db_path
    if not yes:
        if not (is_terminal(sys.stdin) and is_terminal(sys.stdout)):
            err(f"{state['detail']}\nollm: add --yes to set it aside without a terminal")
            return EXIT_USAGE
        print(state["detail"])
        try:
            reply = answer(
                f"Rename {path.name} to {path.name}.damaged-DATE-TIME and start fresh? [y/N] "
            )
        except EOFError:
            reply = ""
        if reply.strip().lower() not in ("y", "yes"):
            err("nothing was changed")
            return EXIT_FAILURE
    try:
        moved = set_aside(path)
    except StoreError as exc:
        err(str(exc))
        return store_exit(exc)
    for new in moved:
        print(f"set aside: {new}")
    print("the next `ollm` starts a fresh chat database")
    return EXIT_OK


def _token_cache(settings: Settings) -> dict[str, Any] | None:
    """The persistent token-count cache's figures; None when there is no database yet."""
    from ollm_tui.cli.chat import open_store
    from ollm_tui.store.db import StoreError
    from ollm_tui.store.token_counts import cache_figures

    if not settings.db_path.exists():
        return None  # the doctor never creates the chat database
    try:
        store = open_store(settings)
    except StoreError as exc:
        return {"error": str(exc)}
    try:
        return cache_figures(store)
    finally:
        store.close()


def _mem(d: dict[str, Any]) -> str:
    return (
        f"{d['label']}: {d['name']}: {format_bytes(d['used_bytes'])} used of "
        f"{format_bytes(d['total_bytes'])}, {format_bytes(d['free_bytes'])} free"
        + (f" (driver {d['driver']})" if d.get("driver") else "")
    )


def cmd_doctor(settings: Settings, as_json: bool) -> int:
    """Print the report; exit code 0."""
    report = doctor_report(settings)
    if as_json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    p = report["probes"]
    print("Memory")
    for g in p["gpus"]:
        print("  " + _mem(g))
    print("  " + _mem(p["ram"]))
    print(f"  this process: {format_bytes(p['process_rss_bytes'])}")
    for note in p["notes"]:
        print(f"  note: {note}")
    b = report["build"]
    print("llama.cpp build")
    print(f"  GPU offload: {'yes' if b['gpu_offload'] else 'no'}")
    print(f"  {b['system_info']}")
    if settings.memory_budget is not None:
        print(f"Memory budget: {format_bytes(settings.memory_budget)}")
    for problem in report["profile_errors"]:
        print(f"warning: {problem}")
    cache = report["token_cache"]
    if cache is None:
        print("Token cache: empty (no chat database yet)")
    elif "error" in cache:
        print(f"Token cache: {cache['error']}")
    else:
        print(
            f"Token cache: {cache['entries']} counts for {cache['tokenizers']} tokenizer(s), "
            f"{cache['tokens']} tokens"
        )
    db = report["database"]
    print(f"Chat database: {db['state']} ({db['path']})")
    if db["detail"]:
        print(f"  {db['detail']}")
    if db["advice"]:
        print(f"  {db['advice']}")
    print("Models")
    for m in report["models"]:
        if not m["usable"]:
            print(f"  {m['name']}: unusable: {m['error']}")
            continue
        if "plan" not in m:
            print(f"  {m['name']}: {m.get('plan_error') or m.get('note') or 'not readable yet'}")
            continue
        plan = m["plan"]
        print(
            f"  {m['name']} ({m['architecture']}, {m['quantization']}, "
            f"trained {m['context_length']} tokens): {plan['chosen']}"
        )
        print(f"    {plan['reason']}")
        for s in plan["sizes"]:
            mark = "fits" if s["fits"] else "does not fit"
            warn = ", over 80 % of the device" if s["warning"] else ""
            print(
                f"    {s['size']:>4}  tier {s['tier']} {s['tier_name']:<8}  n_ctx {s['n_ctx']:>6}  "
                f"needs {format_bytes(s['need_bytes']):>9}  {mark}{warn}"
            )
        for note in plan["notes"]:
            print(f"    note: {note}")
    if settings.context_explicit:
        print(f"--context {settings.context_size} overrides every tier's limit when a model loads")
    return EXIT_OK
