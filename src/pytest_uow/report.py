"""What pytest-uow says in the terminal: the settings it runs with, and the run's summary."""

from __future__ import annotations

from pytest_uow.isolation.base import Template
from pytest_uow.server.run import ServerState
from pytest_uow.settings.options import Spec
from pytest_uow.settings.resolve import Settings, Sourced
from pytest_uow.state import RunResults


def _count(number: int, noun: str) -> str:
    """``1 test``, ``2 tests``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _shown(spec: Spec, setting: Sourced[object]) -> str:
    """A setting's value as the header shows it: a URL without its password, yes/no as on and
    off, lists joined, a registry's entry by its name, nothing as the spec says."""
    value = setting.value
    if value is None:
        return spec.unset
    render = getattr(value, "render_as_string", None)
    if render is not None:
        return str(render(hide_password=True))
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        shown = (" = ".join(item) if isinstance(item, tuple) else str(item) for item in value)
        return ", ".join(shown) or "none"
    return str(getattr(value, "name", value))


def settings_lines(settings: Settings) -> list[str]:
    """One line per setting: its value and where it came from; and which of two settings that
    could both build the tables does."""
    lines = [
        f"uow: {spec.label}={_shown(spec, setting)} ({setting.source})"
        for spec, setting in settings.all.items()
    ]
    if settings.alembic.value is not None and settings.metadata.value is not None:
        compared = (
            "uow::migrations::models_match compares it with them"
            if settings.check_migrations.value
            else "turn on uow_check_migrations to compare it with them"
        )
        lines.append(
            "uow: the tables are built by uow_alembic's migrations; uow_metadata is not used to "
            f"build them ({compared})"
        )
    return lines


def reset_lines(reset_seconds: dict[str, list[float]]) -> list[str]:
    """Per strategy: how many resets, and their median and 95th percentile in milliseconds."""
    lines = []
    for strategy, seconds in sorted(reset_seconds.items()):
        ordered = sorted(seconds)
        p50 = ordered[len(ordered) // 2] * 1000
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000
        lines.append(
            f"uow: reset {strategy}: {_count(len(ordered), 'test')}, "
            f"p50 {p50:.2f} ms, p95 {p95:.2f} ms"
        )
    return lines


def template_lines(templates: list[Template], ready_seconds: list[float]) -> list[str]:
    """Per template the workers were cloned from: built in this run (and how long that took)
    or reused, and how long the slowest worker waited for its database."""
    lines = []
    for name in sorted({template.name for template in templates}):
        builds = [t.seconds for t in templates if t.name == name and t.built]
        how = f"built in {builds[0]:.2f} s" if builds else "reused, built by an earlier run"
        lines.append(f"uow: template {name} {how}")
    if lines and ready_seconds:
        lines[-1] += (
            f"; {len(ready_seconds)} worker database(s) cloned from it, ready in "
            f"{min(ready_seconds) * 1000:.0f}-{max(ready_seconds) * 1000:.0f} ms"
        )
    return lines


def unreached_lines(settings: Settings, reached: set[str]) -> list[str]:
    """A warning for each object ``uow_sessionmakers`` names that no test of the run reached:
    what isolates the suite is then something else, or nothing."""
    return [
        f"uow: WARNING: {adapter.spec} ({settings.sessionmakers.source}) was not reached by "
        "any test: none of its sessions began (an engine: connected) while a test ran. The "
        "suite may replace it with its own (a dependency override, a fixture's sessionmaker): "
        "delete that, or the name"
        for adapter in settings.adapters
        if adapter.spec not in reached
    ]


def idle_lines(results: RunResults) -> list[str]:
    """A warning when tests ran while the worker namespaces were open but none of them reached
    one: the suite isolates itself, or not at all, and pytest-uow only looked on."""
    if not results.database_used or not results.tests_started or results.namespace_reached:
        return []
    if results.elsewhere:
        places = sorted(results.elsewhere)
        more = f" and {len(places) - 3} more" if len(places) > 3 else ""
        went = f"their connections went to {', '.join(places[:3])}{more} instead"
        remedy = (
            "if the suite's own fixtures isolate it there (a database per worker, a dependency "
            "override), delete them to let pytest-uow do it"
        )
    else:
        went = "none of them connected to a database through SQLAlchemy"
        remedy = (
            "tests reach it through the application's engines on uow_database_url, the "
            "factories uow_sessionmakers names, or the uow fixtures"
        )
    return [
        f"uow: WARNING: {_count(results.tests_started, 'test')} ran, and none reached a "
        f"worker namespace: {went}; {remedy}"
    ]


def summary_lines(settings: Settings, results: RunResults, server: ServerState | None) -> list[str]:
    """The end of the run: the server, what was reaped, reset timings, what was kept. A run
    that used the plugin without configuring it had no header: its settings come first here."""
    lines = []
    if results.database_used and not settings.configured:
        lines += settings_lines(settings)
    if server is not None:
        lines.append(
            f"uow: throwaway PostgreSQL {server.version} ({server.origin}) "
            f"started in {server.start_seconds:.2f} s"
        )
    noun = settings.isolation.value.noun
    if results.dropped_kept:
        lines.append(
            f"uow: dropped {len(results.dropped_kept)} {noun}(s) kept by earlier runs: "
            + ", ".join(sorted(results.dropped_kept))
        )
    if results.reaped:
        lines.append(
            f"uow: reaped {len(results.reaped)} {noun}(s) left by runs that died: "
            + ", ".join(sorted(results.reaped))
        )
    if results.load_seconds:
        loads = results.load_seconds
        lines.append(
            f"uow: plugin loaded in {len(loads)} test process(es) in "
            f"{min(loads) * 1000:.0f}-{max(loads) * 1000:.0f} ms"
        )
    lines += template_lines(results.templates, results.ready_seconds)
    if results.ready_seconds and not results.templates:
        ready = results.ready_seconds
        lines.append(
            f"uow: {len(ready)} {noun}(s) ready in "
            f"{min(ready) * 1000:.0f}-{max(ready) * 1000:.0f} ms"
        )
    lines += [f"uow: {note}" for note in results.notes]
    lines += reset_lines(results.reset_seconds)
    if results.drivers:
        lines.append(
            "uow: the tests' engines and async sessions reached the worker namespaces through "
            f"{', '.join(sorted(results.drivers))} (the server line names the driver of the "
            "plugin's own connections)"
        )
    if results.reset_seconds:  # tests ran in a worker namespace
        lines += unreached_lines(settings, results.reached)
    lines += idle_lines(results)
    if results.kept:
        where = "on the throwaway server, which is removed now" if server else "kept"
        lines.append(f"uow: {noun}s {', '.join(sorted(results.kept))} {where}")
    return lines
