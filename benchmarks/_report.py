"""What every benchmark script shares: printing lines and saving them to benchmarks/results/."""

from __future__ import annotations

from pathlib import Path


class Report:
    """Collects printed lines so they can also be written to the results file."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def emit(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(self.lines) + "\n")
