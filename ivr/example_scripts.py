"""Example caller scripts, one per leaf of the menu, by keypad and by speech.

``python -m ivr.example_scripts [DIR]`` writes them (default ``ivr/examples/``) for ``hotline simulate
--script FILE``; the tests build the same scripts from the menu, so they never go stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ivr.menu import Menu, load_menu

ORDER_NUMBER = "20261123001"  # a made-up order number for collect nodes


def leaves(menu: Menu) -> list[str]:
    """Nodes reached by keys from the root that are not submenus, in key order."""
    return menu.leaves()


def _finish(menu: Menu, leaf: str) -> tuple[list[str], str]:
    """Steps after arriving at ``leaf`` (an entry to confirm) and the node that proves success."""
    node = menu.nodes[leaf]
    if node.kind == "collect":
        return [f"press {ORDER_NUMBER}#", "press 1"], node.then
    return [], leaf


def keypad_script(menu: Menu, leaf: str) -> tuple[list[str], str]:
    rest, expect = _finish(menu, leaf)
    return [f"press {k}" for k in menu.key_path(leaf)] + rest, expect


def speech_script(menu: Menu, leaf: str) -> tuple[list[str], str]:
    """Say the submenu's first keyword, then the leaf's first keyword (what a caller would say)."""
    steps: list[str] = []
    parent = menu.parent(leaf)
    if parent != menu.root:
        steps.append(f"say {menu.nodes[parent].keywords[0]}")
    steps.append(f"say {menu.nodes[leaf].keywords[0]}")
    rest, expect = _finish(menu, leaf)
    return steps + rest, expect


def render(menu: Menu, leaf: str, steps: list[str], expect: str, how: str) -> str:
    labels = [menu.nodes[n].label for n in _chain(menu, leaf)]
    head = f"# {' > '.join(labels)} ({leaf}) by {how}\n# hotline simulate --url URL --script THIS_FILE\n"
    return head + "\n".join(steps) + f"\nexpect {expect}\n"


def _chain(menu: Menu, leaf: str) -> list[str]:
    chain = [leaf]
    while chain[-1] != menu.root and menu.parent(chain[-1]) != menu.root:
        chain.append(menu.parent(chain[-1]))
    return list(reversed(chain))


def write_all(menu: Menu, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for leaf in leaves(menu):
        for how, make, suffix in (("keypad", keypad_script, "press"), ("speech", speech_script, "say")):
            steps, expect = make(menu, leaf)
            path = out / f"{leaf}.{suffix}.txt"
            path.write_text(render(menu, leaf, steps, expect, how), encoding="utf-8")
            written.append(path)
    return written


def main(argv: list[str]) -> None:
    here = Path(__file__).resolve().parent
    out = Path(argv[0]) if argv else here / "examples"
    menu = load_menu(here / "menus" / "950618.yaml")
    for p in write_all(menu, out):
        print(p)


if __name__ == "__main__":
    main(sys.argv[1:])
