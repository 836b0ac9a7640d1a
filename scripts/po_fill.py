"""Fill the English catalogue from `locale/pending/*.json` after makemessages, then delete them.

Each pending file maps a French msgid to its English msgstr (a list of two for
plurals: one, several); branches that add strings ship one, so parallel work
never conflicts inside django.po. Entries still untranslated or fuzzy after
filling are printed, and the exit status is 1 while any is left. Delete the
pending files once their strings are in django.po (they are not needed after).

    .venv/bin/python scripts/po_fill.py && .venv/bin/python manage.py compilemessages --ignore=.venv -l en
"""

import json
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale/en/LC_MESSAGES/django.po"
PENDING = ROOT / "locale/pending"


def main() -> int:
    po = polib.pofile(str(PO), wrapwidth=79)  # as GNU gettext wraps, so diffs stay small
    files = sorted(PENDING.glob("*.json"))
    wanted: dict = {}
    for path in files:
        wanted.update(json.loads(path.read_text(encoding="utf-8")))
    for entry in po:
        if entry.msgid not in wanted:
            continue
        english = wanted[entry.msgid]
        if entry.msgid_plural:
            one, several = english if isinstance(english, list) else (english, english)
            entry.msgstr_plural = {0: one, 1: several}
        else:
            entry.msgstr = english if isinstance(english, str) else english[0]
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
        entry.previous_msgid = entry.previous_msgid_plural = None
    po.save()
    left = [e.msgid for e in po if not e.translated() or "fuzzy" in e.flags]
    for msgid in left:
        print(f"untranslated: {msgid!r}")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
