"""Vocabulary of the demo world: names, regions, towns, tontine names, holidays.

Plain data, so the generator stays about numbers and a reader can check the
flavour at a glance.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

from sunusav.models import Region

# Wolof, Pulaar, Serer and Diola first names, all common in Senegal.
FIRST_NAMES: tuple[str, ...] = (
    # women
    "Aminata", "Fatou", "Awa", "Mariama", "Khady", "Ndeye", "Astou", "Coumba", "Aïssatou", "Adama",
    "Binta", "Dieynaba", "Sokhna", "Rokhaya", "Ngoné", "Yacine", "Seynabou", "Oumou", "Maïmouna", "Penda",
    "Marème", "Fama", "Mame Diarra", "Khadija", "Bineta", "Daba", "Djeneba", "Ramatoulaye", "Khoudia",
    "Maguette", "Sira", "Nogaye", "Anta", "Thioro", "Ndèye Fatou", "Arame", "Codou", "Selbé", "Diary",
    # men
    "Mamadou", "Moussa", "Ibrahima", "Cheikh", "Ousmane", "Abdoulaye", "Modou", "Serigne", "Pape", "Amadou",
    "Babacar", "Alioune", "Assane", "Lamine", "Malick", "Omar", "Saliou", "Souleymane", "Demba", "Samba",
    "Birame", "Djibril", "El Hadji", "Fallou", "Khadim", "Mor", "Ndiaga", "Oumar", "Thierno", "Waly",
    "Boubacar", "Youssou", "Aliou", "Bassirou", "Idrissa", "Mansour", "Ngor", "Sidy", "Tidiane", "Diégane",
    "Matar", "Lat Dior", "Massamba", "Gorgui", "Ansou", "Aliou Badara",
)  # fmt: skip

# Family names heard everywhere in the country.
FAMILY_NAMES: tuple[str, ...] = (
    "Diop", "Ndiaye", "Fall", "Sow", "Ba", "Sy", "Diallo", "Gueye", "Faye", "Mbaye", "Sarr", "Cissé", "Thiam",
    "Kane", "Niang", "Seck", "Diouf", "Ndour", "Sène", "Touré", "Wade", "Sall", "Ka", "Diagne", "Dieng", "Lo",
    "Mbengue", "Ndao", "Thiaw", "Samb", "Camara", "Kébé", "Mbodj", "Dramé", "Sylla", "Diakhaté", "Ngom",
    "Dia", "Guèye", "Lèye", "Mboup", "Tine",
)  # fmt: skip

# Family names more frequent in some regions (Pulaar in the Fouta and the east,
# Serer in the Sine-Saloum, Diola in Casamance); drawn half the time there.
LOCAL_FAMILY_NAMES: dict[str, tuple[str, ...]] = {
    "pulaar": ("Sow", "Ba", "Sy", "Diallo", "Kane", "Tall", "Ly", "Barry", "Deh", "Wane", "Anne", "Baldé", "Sidibé"),
    "serer": ("Faye", "Sène", "Ndour", "Diouf", "Dione", "Sarr", "Ngom", "Thiaw", "Tine", "Ndong", "Diène"),
    "diola": ("Diatta", "Badji", "Sané", "Mané", "Manga", "Goudiaby", "Coly", "Sagna", "Bassène", "Diédhiou"),
}
REGION_LOCAL_POOL: dict[str, str] = {
    Region.MATAM: "pulaar",
    Region.SAINT_LOUIS: "pulaar",
    Region.KOLDA: "pulaar",
    Region.TAMBACOUNDA: "pulaar",
    Region.KEDOUGOU: "pulaar",
    Region.FATICK: "serer",
    Region.KAOLACK: "serer",
    Region.ZIGUINCHOR: "diola",
    Region.SEDHIOU: "diola",
}

# Where members live: roughly the population, with Dakar, Thiès and Diourbel
# (Touba) ahead as in SunuSàv's user base.
REGION_WEIGHTS: dict[str, float] = {
    Region.DAKAR: 0.30,
    Region.THIES: 0.15,
    Region.DIOURBEL: 0.12,
    Region.KAOLACK: 0.06,
    Region.SAINT_LOUIS: 0.06,
    Region.LOUGA: 0.05,
    Region.ZIGUINCHOR: 0.05,
    Region.FATICK: 0.04,
    Region.KOLDA: 0.035,
    Region.TAMBACOUNDA: 0.035,
    Region.KAFFRINE: 0.03,
    Region.MATAM: 0.025,
    Region.SEDHIOU: 0.02,
    Region.KEDOUGOU: 0.01,
}

# Towns and neighbourhoods per region; a payment's `location` is the town's slug.
TOWNS: dict[str, tuple[str, ...]] = {
    Region.DAKAR: (
        "Médina", "Grand-Yoff", "Parcelles Assainies", "Pikine", "Guédiawaye", "Rufisque", "Yoff", "Ouakam",
        "Keur Massar", "Thiaroye", "HLM", "Sicap Liberté",
    ),
    Region.THIES: ("Thiès", "Mbour", "Tivaouane", "Joal-Fadiouth", "Saly", "Kayar"),
    Region.DIOURBEL: ("Touba", "Mbacké", "Diourbel", "Bambey"),
    Region.FATICK: ("Fatick", "Foundiougne", "Sokone", "Gossas"),
    Region.KAFFRINE: ("Kaffrine", "Koungheul", "Birkelane"),
    Region.KAOLACK: ("Kaolack", "Nioro du Rip", "Guinguinéo"),
    Region.KEDOUGOU: ("Kédougou", "Saraya", "Salémata"),
    Region.KOLDA: ("Kolda", "Vélingara", "Médina Yoro Foulah"),
    Region.LOUGA: ("Louga", "Linguère", "Kébémer", "Dahra"),
    Region.MATAM: ("Matam", "Ourossogui", "Kanel", "Ranérou"),
    Region.SAINT_LOUIS: ("Saint-Louis", "Richard-Toll", "Dagana", "Podor"),
    Region.SEDHIOU: ("Sédhiou", "Goudomp", "Bounkiling"),
    Region.TAMBACOUNDA: ("Tambacounda", "Bakel", "Goudiry", "Koumpentoum"),
    Region.ZIGUINCHOR: ("Ziguinchor", "Bignona", "Oussouye", "Cap Skirring"),
}  # fmt: skip

# Tontine names: "Natt" and "Mbootaay" are Wolof for a savings circle and an
# association; the middle word is a wish (peace, success, hope, mutual help...).
TONTINE_KINDS: tuple[str, ...] = ("Natt", "Mbootaay", "Tontine", "Dahira", "Caisse", "Sàndaga")
TONTINE_WISHES: tuple[str, ...] = (
    "Jàmm", "Tékki", "Yaakaar", "Liggéey", "Ndimbal", "Teranga", "Benno", "And Suxali", "Dimbali", "Xéewal",
    "des femmes", "des commerçantes", "des jeunes", "du marché", "Jappo", "Ñoo Far",
)  # fmt: skip

# Days when Senegal spends: Korité (Eid al-Fitr), Tabaski (Eid al-Adha) and the
# Grand Magal of Touba (pilgrims travel there). Approximate dates suffice.
HOLIDAYS: tuple[tuple[str, dt.date], ...] = (
    ("korite", dt.date(2023, 4, 21)),
    ("tabaski", dt.date(2023, 6, 29)),
    ("magal", dt.date(2023, 9, 4)),
    ("korite", dt.date(2024, 4, 10)),
    ("tabaski", dt.date(2024, 6, 17)),
    ("magal", dt.date(2024, 8, 23)),
    ("korite", dt.date(2025, 3, 31)),
    ("tabaski", dt.date(2025, 6, 7)),
    ("magal", dt.date(2025, 8, 13)),
    ("korite", dt.date(2026, 3, 20)),
    ("tabaski", dt.date(2026, 5, 27)),
    ("magal", dt.date(2026, 8, 2)),
    ("korite", dt.date(2027, 3, 10)),
    ("tabaski", dt.date(2027, 5, 16)),
    ("magal", dt.date(2027, 7, 23)),
)
MAGAL_TOWN = "Touba"


def slug(text: str) -> str:
    """Return an ASCII, lower-case, dash-separated code for a town name."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join(ascii_text.lower().replace("'", " ").split())


# Names used by sunusav/demo/generator.py (written alongside this module).
FEMALE: tuple[str, ...] = FIRST_NAMES[: FIRST_NAMES.index("Mamadou")]
MALE: tuple[str, ...] = FIRST_NAMES[FIRST_NAMES.index("Mamadou") :]
FAMILY: tuple[str, ...] = FAMILY_NAMES
TONTINE_NAMES: tuple[str, ...] = tuple(t for towns in TOWNS.values() for t in towns)
