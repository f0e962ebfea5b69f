"""What a viewer page (``scope-replay --html``, the CI artifacts) carries, read without a
browser: the JSON document the page embeds."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any


def embedded(page: Path) -> dict[str, Any]:
    """The document embedded in the viewer page at ``page``."""
    text = page.read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="scope-data">(.*?)</script>', text)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data
