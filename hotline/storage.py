"""Content-addressed storage of recordings under the data directory.

The file name is the audio's SHA-256, so a recording fetched twice (a retried job, a worker on
another machine) lands in the same place and a changed source is noticed.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path


def store_audio(data_dir: Path, data: bytes, ext: str) -> tuple[str, str]:
    """Content-addressed: ``recordings/<sha[:2]>/<sha>.<ext>`` relative to the data dir (atomic write)."""
    sha = hashlib.sha256(data).hexdigest()
    rel = Path("recordings") / sha[:2] / f"{sha}.{ext}"
    dest = data_dir / rel
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        # per process *and* thread: two runner threads may store the same recording at once
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    return rel.as_posix(), sha
