"""Server-rendered pages: one Jinja2 environment with autoescaping on."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES_DIR = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES_DIR),
                       autoescape=select_autoescape(default=True), auto_reload=False)


def render(template: str, **context: Any) -> str:
    """Render ``template``; every value is HTML-escaped unless marked safe."""
    return environment().get_template(template).render(**context)
