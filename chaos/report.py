"""The table `make chaos` prints (and bench/chaos_results.md keeps)."""

from chaos.experiments import Row


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def table(rows: list[Row]) -> str:
    header = (
        "| experiment | accepted | refused | errors | done | failed | lost | recovery s "
        "| upload p50/p95 ms | /healthz p95 ms | promise | holds |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for row in rows:
        upload = f"{_ms(row.upload.percentile(50))}/{_ms(row.upload.percentile(95))}" if row.upload else "–"
        health = _ms(row.health.percentile(95)) if row.health else "–"
        recovery = "–" if row.recovery_s is None else f"{row.recovery_s:.1f}"
        verdict = "yes" if row.ok else f"**NO**: {row.broken}"
        if row.missed:
            verdict += f"; target missed: {row.missed}"
        lines.append(
            f"| {row.name} | {row.accepted} | {row.refused} | {row.errors} | {row.done} | {row.failed} "
            f"| {row.lost} | {recovery} | {upload} | {health} | {row.promise} | {verdict} |"
        )
    return "\n".join(lines)
