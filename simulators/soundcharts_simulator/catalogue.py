"""A deterministic synthetic Soundcharts catalogue: platforms, charts, rankings, songs, artists, audiences.

Everything is a pure function of the seed (and of the chart and date asked for), so any date can be
computed on demand and two simulators started with the same seed serve identical data. Nothing here talks
HTTP: the FastAPI app in :mod:`soundcharts_simulator.app` only pages and serialises what this module returns,
and tests use the same accessors as ground truth ("exactly what the simulator serves").

How rankings are made. Each chart has its own stream of arrivals: every period a few songs (picked among
recent releases, with a bias towards globally "hot" songs so that hits show up on many charts) enter the
chart's candidate pool with a peak popularity, a ramp-up and a half-life. A song's score at a period is its
popularity curve times a little per-period noise; the ranking is the top N scores. Songs therefore rise,
peak, decay and drop out, new ones enter and some re-enter after a dip. Rankings are computed by sweeping
forward from a warm-up before 2024-01-01 (so the first served ranking already carries history: entry dates
before 2024, long ``timeOnChart``), and every computed period is kept in compact arrays, so a chart costs one
sweep (about a second for a 200-entry daily chart) and then any date is a lookup.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
import uuid
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

__all__ = [
    "HISTORY_START",
    "PLATFORMS",
    "Catalogue",
    "ChartDefinition",
    "RankingSnapshot",
    "UnknownEntityError",
]

#: First day of the ranking history the simulator serves (earlier dates answer "no ranking").
HISTORY_START = date(2024, 1, 1)
#: Rankings are dated at noon UTC of their day (recorded: ``2025-08-23T12:00:00+00:00``).
RANKING_TIME = time(12, 0, tzinfo=UTC)

#: The 21 platforms of the recorded ``/api/v2/chart/song/platforms`` response, in its order.
PLATFORMS: list[dict[str, str]] = [
    {"name": "Airplay", "code": "airplay"},
    {"name": "Amazon", "code": "amazon"},
    {"name": "Anghami", "code": "anghami"},
    {"name": "Apple Music", "code": "apple-music"},
    {"name": "Beatport", "code": "beatport"},
    {"name": "Boomplay", "code": "boomplay"},
    {"name": "Deezer", "code": "deezer"},
    {"name": "Gaana", "code": "gaana"},
    {"name": "Genius", "code": "genius"},
    {"name": "Jiosaavn", "code": "jiosaavn"},
    {"name": "Line Music", "code": "line-music"},
    {"name": "Melon", "code": "melon"},
    {"name": "NetEase", "code": "netease"},
    {"name": "QQ Music", "code": "qq-music"},
    {"name": "Shazam", "code": "shazam"},
    {"name": "Soundcloud", "code": "soundcloud"},
    {"name": "Spotify", "code": "spotify"},
    {"name": "Tidal", "code": "tidal"},
    {"name": "TikTok", "code": "tiktok"},
    {"name": "YouTube", "code": "youtube"},
    {"name": "iTunes", "code": "itunes"},
]
PLATFORM_NAMES = {platform["code"]: platform["name"] for platform in PLATFORMS}

#: Platforms a song audience series exists for (others are valid platforms but answer 400).
SONG_AUDIENCE_PLATFORMS = ("spotify", "youtube", "shazam", "deezer", "soundcloud", "tiktok", "airplay")
#: Platforms an artist audience series exists for.
ARTIST_AUDIENCE_PLATFORMS = ("spotify", "youtube", "instagram", "tiktok", "deezer", "soundcloud")

COUNTRIES: list[tuple[str, str]] = [
    ("US", "United States"), ("GB", "United Kingdom"), ("DE", "Germany"), ("FR", "France"),
    ("IT", "Italy"), ("ES", "Spain"), ("BR", "Brazil"), ("MX", "Mexico"), ("CA", "Canada"),
    ("AU", "Australia"), ("JP", "Japan"), ("KR", "South Korea"), ("IN", "India"), ("ID", "Indonesia"),
    ("PH", "Philippines"), ("NL", "Netherlands"), ("SE", "Sweden"), ("NO", "Norway"), ("DK", "Denmark"),
    ("FI", "Finland"), ("PL", "Poland"), ("PT", "Portugal"), ("BE", "Belgium"), ("AT", "Austria"),
    ("CH", "Switzerland"), ("IE", "Ireland"), ("AR", "Argentina"), ("CL", "Chile"), ("CO", "Colombia"),
    ("PE", "Peru"), ("TR", "Türkiye"), ("ZA", "South Africa"), ("NG", "Nigeria"), ("EG", "Egypt"),
    ("SA", "Saudi Arabia"), ("AE", "United Arab Emirates"), ("IL", "Israel"), ("GR", "Greece"),
    ("CZ", "Czech Republic"), ("HU", "Hungary"), ("RO", "Romania"), ("UA", "Ukraine"), ("TH", "Thailand"),
    ("VN", "Vietnam"), ("MY", "Malaysia"), ("SG", "Singapore"), ("TW", "Taiwan"), ("HK", "Hong Kong"),
    ("NZ", "New Zealand"), ("EC", "Ecuador"), ("UY", "Uruguay"), ("PY", "Paraguay"), ("BO", "Bolivia"),
    ("CR", "Costa Rica"), ("GT", "Guatemala"), ("HN", "Honduras"), ("SV", "El Salvador"),
    ("NI", "Nicaragua"), ("PA", "Panama"), ("DO", "Dominican Republic"), ("SK", "Slovakia"),
    ("BG", "Bulgaria"), ("IS", "Iceland"), ("LT", "Lithuania"), ("LV", "Latvia"), ("EE", "Estonia"),
    ("LU", "Luxembourg"), ("MA", "Morocco"), ("PK", "Pakistan"), ("KZ", "Kazakhstan"), ("BY", "Belarus"),
    ("VE", "Venezuela"), ("CY", "Cyprus"), ("MT", "Malta"),
]  # fmt: skip
COUNTRY_NAMES = dict(COUNTRIES)

_MASK = (1 << 64) - 1
_DAY_SECONDS = 86400


class UnknownEntityError(LookupError):
    """A chart slug, song or artist uuid, or platform the catalogue does not know."""


# --- deterministic hashing (fast enough for the ranking sweep) ------------------------------------------


def _splitmix(value: int) -> int:
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def _mix(*parts: int) -> int:
    state = 0x2545F4914F6CDD1D
    for part in parts:
        state = _splitmix(state ^ (part & _MASK))
    return state


def _unit(value: int) -> float:
    """Map a 64-bit hash to [0, 1)."""
    return (value >> 11) * (1.0 / (1 << 53))


def _text_key(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _day_iso(day: date) -> str:
    return f"{day.isoformat()}T00:00:00+00:00"


# --- chart definitions and period arithmetic -------------------------------------------------------------


@dataclass(frozen=True)
class ChartDefinition:
    """A chart as the API describes it, plus how the simulator generates its rankings."""

    slug: str
    name: str
    platform: str
    frequency: str  # daily | weekly | monthly
    country_code: str  # "" for worldwide charts, as in the recorded response
    size: int
    web_url: str
    metric_type: str | None = None
    metric_description: str | None = None
    metric_scale: float = 0.0

    @property
    def country_name(self) -> str:
        return COUNTRY_NAMES.get(self.country_code, "Worldwide") if self.country_code else "Worldwide"

    @property
    def time_on_chart_unit(self) -> str:
        return {"daily": "DOC", "weekly": "WOC", "monthly": "MOC"}[self.frequency]

    def to_api(self) -> dict[str, Any]:
        """The chart object exactly as the API serves it (``related.chart`` and chart-list items)."""
        metric = (
            {"type": self.metric_type, "description": self.metric_description} if self.metric_type else None
        )
        return {
            "name": self.name,
            "type": "song",
            "slug": self.slug,
            "platform": self.platform,
            "frequency": self.frequency,
            "countryCode": self.country_code,
            "countryName": self.country_name,
            "cityName": "",
            "maxResultsCount": self.size,
            "webUrl": self.web_url,
            "metric": metric,
        }

    # Period p = 0 is the first ranking of the history; negative periods are the warm-up.
    def first_ranking_day(self) -> date:
        if self.frequency == "weekly":
            return HISTORY_START + timedelta(days=(4 - HISTORY_START.weekday()) % 7)  # first Friday
        return HISTORY_START

    def day_of_period(self, period: int) -> date:
        first = self.first_ranking_day()
        if self.frequency == "daily":
            return first + timedelta(days=period)
        if self.frequency == "weekly":
            return first + timedelta(days=7 * period)
        months = first.year * 12 + (first.month - 1) + period
        return date(months // 12, months % 12 + 1, 1)

    def datetime_of_period(self, period: int) -> datetime:
        return datetime.combine(self.day_of_period(period), RANKING_TIME)

    def period_on_or_before(self, day: date) -> int:
        """Index of the last ranking dated on or before ``day`` (may be negative: before the history)."""
        first = self.first_ranking_day()
        if self.frequency == "daily":
            return (day - first).days
        if self.frequency == "weekly":
            return (day - first).days // 7
        return (day.year * 12 + day.month - 1) - (first.year * 12 + first.month - 1)

    def period_dated(self, moment: datetime) -> int | None:
        """Index of the ranking dated exactly ``moment`` (tz-aware), or None when no ranking has that date."""
        period = self.period_on_or_before(moment.astimezone(UTC).date())
        if period < 0 or self.datetime_of_period(period) != moment:
            return None
        return period

    def latest_period(self, now: datetime) -> int:
        """Index of the newest ranking published at ``now`` (rankings appear at their 12:00 UTC date)."""
        period = self.period_on_or_before(now.astimezone(UTC).date())
        if self.datetime_of_period(period) > now:
            period -= 1
        return period

    @property
    def warmup_periods(self) -> int:
        return {"daily": 365, "weekly": 104, "monthly": 36}[self.frequency]


def _build_charts() -> dict[str, ChartDefinition]:
    charts: list[ChartDefinition] = []
    spotify_countries = [("", "global")] + [(code, code.lower()) for code, _ in COUNTRIES]
    for index, (code, key) in enumerate(spotify_countries):
        scale = 1_500_000 if not code else (450_000 if code == "US" else 20_000 + (index * 7919) % 180_000)
        charts.append(
            ChartDefinition(
                slug=f"{key}-28",
                name="Top Songs",
                platform="spotify",
                frequency="daily",
                country_code=code,
                size=200,
                web_url=f"https://charts.spotify.com/charts/view/regional-{key}-daily/latest",
                metric_type="streamcount",
                metric_description="Streams",
                metric_scale=scale,
            )
        )
        charts.append(
            ChartDefinition(
                slug=f"{key}-weekly-28",
                name="Top Songs Weekly",
                platform="spotify",
                frequency="weekly",
                country_code=code,
                size=200,
                web_url=f"https://charts.spotify.com/charts/view/regional-{key}-weekly/latest",
                metric_type="streamcount",
                metric_description="Streams",
                metric_scale=scale * 7,
            )
        )
    per_platform = {
        "apple-music": (
            "Top 100",
            "daily",
            100,
            ["IT", "US", "GB", "FR", "DE", "ES", "JP", "BR", "CA", "AU", "MX", "NL"],
            "https://music.apple.com/{cc}/playlist/top-100",
        ),
        "shazam": (
            "Top 100",
            "daily",
            100,
            ["FR", "US", "GB", "DE", "IT", "ES", "BR", "MX", "NL", "BE"],
            "https://www.shazam.com/charts/top-100/{cc}",
        ),
        "deezer": (
            "Top 100",
            "daily",
            100,
            ["FR", "DE", "BR", "GB", "US", "BE", "NL"],
            "https://www.deezer.com/charts/{cc}",
        ),
        "youtube": (
            "Top Songs",
            "weekly",
            100,
            ["US", "GB", "IN", "BR", "MX", "DE"],
            "https://charts.youtube.com/charts/TopSongs/{cc}/weekly",
        ),
    }
    for platform, (name, frequency, size, codes, url) in per_platform.items():
        for code in codes:
            charts.append(
                ChartDefinition(
                    slug=f"{platform}-{code.lower()}-{frequency}",
                    name=name,
                    platform=platform,
                    frequency=frequency,
                    country_code=code,
                    size=size,
                    web_url=url.format(cc=code.lower()),
                )
            )
    for code in ["US", "GB", "FR", "DE", "IT", "CA", "AU", "ES"]:
        for frequency in ("monthly", "weekly"):
            charts.append(
                ChartDefinition(
                    slug=f"airplay-{code.lower()}-{frequency}",
                    name="Radio Airplay",
                    platform="airplay",
                    frequency=frequency,
                    country_code=code,
                    size=50,
                    web_url=f"https://app.soundcharts.com/app/charts/airplay/{code.lower()}/{frequency}",
                    metric_type="spins",
                    metric_description="Spins",
                    metric_scale=900.0 if frequency == "monthly" else 220.0,
                )
            )
    return {chart.slug: chart for chart in charts}


CHARTS: dict[str, ChartDefinition] = _build_charts()


# --- the ranking engine ------------------------------------------------------------------------------------

_STATE_NONE, _STATE_NEW, _STATE_REENTRY = 0, 1, 2
_ENTRY_STATE_TEXT = {_STATE_NONE: "", _STATE_NEW: "NEW", _STATE_REENTRY: "RE-ENTRY"}

# Per frequency: arrivals per period as a share of the chart size, ramp-up periods, half-life periods,
# per-period score noise, and how far back (days) a "recent release" may be when it enters.
_DYNAMICS = {
    "daily": {"arrivals": 0.03, "rise": (1, 8), "half_life": (12.0, 240.0), "noise": 0.035, "recent": 28},
    "weekly": {"arrivals": 0.12, "rise": (1, 3), "half_life": (2.5, 30.0), "noise": 0.06, "recent": 42},
    "monthly": {"arrivals": 0.35, "rise": (1, 2), "half_life": (0.8, 6.0), "noise": 0.08, "recent": 75},
}


@dataclass(slots=True)
class _Candidate:
    song: int
    start: int
    peak: float
    rise: int
    half_life: float
    noise_key: int

    def trend(self, period: int) -> float:
        age = period - self.start
        ramp = min(1.0, (age + 1) / self.rise)
        decay = 0.5 ** (max(0, age - self.rise) / self.half_life)
        return self.peak * ramp * decay


@dataclass(frozen=True)
class _PeriodRecord:
    songs: array  # song ids by position (position = index + 1)
    metrics: array
    old_positions: array
    entry_periods: array
    times_on_chart: array
    entry_states: bytes


@dataclass(frozen=True)
class RankingSnapshot:
    """One full ranking as served: ``related`` (chart + date) and every item, positions 1..N."""

    chart: ChartDefinition
    period: int
    date: datetime
    items: list[dict[str, Any]]

    @property
    def related(self) -> dict[str, Any]:
        return {"chart": self.chart.to_api(), "date": _iso(self.date)}


class _ChartEngine:
    """Forward sweep of one chart's rankings; every computed period is kept (compactly) for lookups."""

    def __init__(self, catalogue: Catalogue, chart: ChartDefinition) -> None:
        self.catalogue = catalogue
        self.chart = chart
        self.key = _mix(catalogue.seed_key, _text_key(chart.slug))
        self.dynamics = _DYNAMICS[chart.frequency]
        self.lock = threading.Lock()
        self.records: list[_PeriodRecord] = []  # index = period (>= 0)
        self.next_period = -chart.warmup_periods
        self.active: dict[int, _Candidate] = {}
        self.first_period: dict[int, int] = {}
        self.periods_on_chart: dict[int, int] = {}
        self.previous_positions: dict[int, int] = {}

    def record(self, period: int) -> _PeriodRecord:
        with self.lock:
            while self.next_period <= period:
                self._step(self.next_period)
                self.next_period += 1
            return self.records[period]

    def _arrivals(self, period: int) -> None:
        chart, dyn, catalogue = self.chart, self.dynamics, self.catalogue
        expected = chart.size * dyn["arrivals"]
        jitter = _unit(_mix(self.key, period, 1))
        count = int(expected * (0.6 + 0.8 * jitter) + 0.5)
        day = chart.day_of_period(period)
        recent_low, recent_high = catalogue.song_ids_released_between(
            day - timedelta(days=dyn["recent"]), day
        )
        catalog_low, _ = catalogue.song_ids_released_between(day - timedelta(days=730), day)
        rise_low, rise_high = dyn["rise"]
        half_low, half_high = dyn["half_life"]
        for k in range(count):
            draw = _mix(self.key, period, 2, k)
            # Mostly recent releases; now and then an older catalogue song comes back.
            low = catalog_low if _unit(draw) < 0.12 else recent_low
            if recent_high <= low:
                continue
            # Tournament of three by global hotness: hits show up on many charts at once.
            song = max(
                (low + _mix(draw, j) % (recent_high - low) for j in range(3)),
                key=catalogue.song_hotness,
            )
            if song in self.active:
                continue
            params = random.Random(_mix(self.key, song, period))
            hot = catalogue.song_hotness(song)
            peak = math.exp(params.gauss(0.0, 0.75)) * (0.4 + 1.6 * hot)
            rise = params.randint(rise_low, rise_high)
            half_life = math.exp(params.uniform(math.log(half_low), math.log(half_high)))
            self.active[song] = _Candidate(song, period, peak, rise, half_life, _mix(self.key, song, 3))

    def _step(self, period: int) -> None:
        chart, noise = self.chart, self.dynamics["noise"]
        self._arrivals(period)
        scored = []
        for candidate in self.active.values():
            trend = candidate.trend(period)
            wobble = _unit(_splitmix(candidate.noise_key ^ (period & _MASK))) * 2.0 - 1.0
            scored.append((trend * (1.0 + noise * wobble), candidate.song, trend))
        scored.sort(reverse=True)
        top = scored[: chart.size]
        # Forget songs that are past their peak and too far below the cut to ever come back.
        if len(scored) >= chart.size:
            cut = top[-1][0]
            for _, song, trend in scored[chart.size :]:
                candidate = self.active[song]
                if period - candidate.start > candidate.rise and trend < cut * 0.7:
                    del self.active[song]
        positions: dict[int, int] = {}
        songs, metrics, olds, entries, times = (array("q"), array("q"), array("i"), array("i"), array("i"))
        states = bytearray()
        previous = self.previous_positions
        for position, (score, song, _) in enumerate(top, start=1):
            positions[song] = position
            old = previous.get(song, 0)
            first = self.first_period.setdefault(song, period)
            count = self.periods_on_chart.get(song, 0) + 1
            self.periods_on_chart[song] = count
            if first == period:
                state = _STATE_NEW
            elif old == 0:
                state = _STATE_REENTRY
            else:
                state = _STATE_NONE
            songs.append(song)
            metrics.append(int(score * chart.metric_scale))
            olds.append(old)
            entries.append(first)
            times.append(count)
            states.append(state)
        self.previous_positions = positions
        if period >= 0:
            self.records.append(_PeriodRecord(songs, metrics, olds, entries, times, bytes(states)))


# --- the catalogue -----------------------------------------------------------------------------------------

_WORDS_A = [
    "Golden", "Midnight", "Neon", "Broken", "Wild", "Silver", "Electric", "Lonely", "Sweet", "Crazy",
    "Velvet", "Paper", "Cold", "Burning", "Secret", "Falling", "Endless", "Summer", "Blue", "Dancing",
    "Lucky", "Sugar", "Hollow", "Bitter", "Crystal", "Runaway", "Little", "Higher", "Tender", "Rebel",
    "Faded", "Savage", "Gentle", "Perfect", "Restless"
]  # fmt: skip
_WORDS_B = [
    "Heart", "Night", "Love", "Fire", "Dreams", "Lights", "Rain", "City", "Highway", "Kiss", "Ghost",
    "Waves", "Stars", "Summer", "Eyes", "Paradise", "Thunder", "Roses", "Moon", "Signal", "Echo", "Horizon",
    "Mirror", "Shadows", "Diamonds", "Gravity", "Feelings", "Wonder", "Tears", "Island", "Motion",
    "Promise", "Garden"
]  # fmt: skip
_PHRASES = [
    "back to friends", "die with a smile", "what was i made for", "no more tears", "stay with me",
    "call me later", "one more time", "all the way", "never enough", "i like it", "out of my mind",
    "keep on dancing", "take me home", "on my own", "in the dark", "too much", "tell me why",
    "love me back", "run it up", "for you",
]  # fmt: skip
_FIRST_NAMES = [
    "Ava", "Liam", "Mia", "Noah", "Zoe", "Leo", "Nina", "Omar", "Luna", "Ezra", "Iris", "Milo", "Sofia",
    "Kai", "Elena", "Theo", "Maya", "Jonas", "Clara", "Rafael", "Ines", "Tomas", "Yuki", "Amara", "Dario",
    "Freya", "Hugo", "Lea", "Mateo", "Nora"
]  # fmt: skip
_LAST_NAMES = [
    "Rivers", "Stone", "Vega", "Moreau", "Kane", "Silva", "Park", "Novak", "Rossi", "Blake", "Hart", "Lund",
    "Okafor", "Reyes", "Frost", "Bianchi", "Wolfe", "Ito", "Meyer", "Castillo", "Dumont", "Quinn", "Marsh",
    "Haddad", "Costa"
]  # fmt: skip
_STAGE_NAMES = [
    "sombr", "HUNTR", "Lumen", "KAYO", "Nyx", "Solace", "Vantage", "Orbit", "Juno", "Raye", "Tala",
    "Zephyr", "Mirage", "Kairo", "Blaze", "Ozzy", "Nova", "Saint", "Lowkey", "Echoes"
]  # fmt: skip
_GENRES = {
    "pop": ["dance pop", "electropop", "indie pop", "k-pop"],
    "hip hop": ["trap", "rap", "drill", "conscious hip hop"],
    "electronic": ["house", "techno", "edm", "drum and bass"],
    "rock": ["alternative rock", "indie rock", "pop rock"],
    "latin": ["reggaeton", "latin pop", "bachata"],
    "r&b": ["contemporary r&b", "neo soul"],
    "alternative": ["alternative", "indie"],
    "country": ["contemporary country", "country pop"],
    "african": ["afrobeats", "amapiano"],
}
_LABELS = [
    ("Interscope", "Universal"), ("Republic", "Universal"), ("Island", "Universal"), ("Def Jam", "Universal"),
    ("Columbia", "Sony"), ("RCA", "Sony"), ("Epic", "Sony"), ("Atlantic", "Warner"),
    ("Warner Records", "Warner"), ("Parlophone", "Warner"), ("XL Recordings", "Independent"),
    ("Sub Pop", "Independent"), ("Ninja Tune", "Independent"), ("Because Music", "Independent"),
]  # fmt: skip
_LANGUAGES = ["en", "en", "en", "es", "es", "pt", "fr", "de", "it", "ko", "ja", ""]
_CAREER_STAGES = ["undiscovered", "developing", "mid-level", "mainstream", "superstar", "legendary"]
_GROWTH_LEVELS = ["decline", "steady", "growth", "explosive"]
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_YOUTUBE_ALPHABET = _BASE62 + "-_"

_SONG_AUDIENCE_SCALE = {
    "spotify": 1.0,
    "youtube": 0.55,
    "shazam": 0.012,
    "deezer": 0.06,
    "soundcloud": 0.02,
    "tiktok": 0.0004,
    "airplay": 0.0003,
}
#: The metrics each platform's artist audience carries, after the official docs ("Get audience": a table
#: of likeCount/followerCount/followingCount/postCount/viewCount per platform, followerCount only on the
#: others) and the bulk feed's sample rows. Each metric: (name, share of followerCount, growth factor).
ARTIST_AUDIENCE_METRICS: dict[str, tuple[tuple[str, float, float], ...]] = {
    "spotify": (),
    "deezer": (),
    "instagram": (("followingCount", 0.0002, 0.1), ("postCount", 0.00003, 0.5)),
    "soundcloud": (("followingCount", 0.0004, 0.1), ("postCount", 0.00005, 0.5)),
    "tiktok": (("likeCount", 7.3, 1.2), ("followingCount", 0.000002, 0.0), ("postCount", 0.000002, 0.5)),
    "youtube": (("viewCount", 180.0, 1.5), ("postCount", 0.00004, 0.5)),
}

_ARTIST_AUDIENCE_SCALE = {
    "spotify": 1.0,
    "youtube": 0.35,
    "instagram": 0.8,
    "tiktok": 0.6,
    "deezer": 0.05,
    "soundcloud": 0.03,
}


def _random_string(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _slugify(text: str) -> str:
    slug = "".join(char.lower() if char.isalnum() else "-" for char in text)
    return "-".join(part for part in slug.split("-") if part)


class Catalogue:
    """The whole synthetic dataset for one seed. Thread-safe; expensive parts are computed once and cached.

    Songs are numbered in release order (``songs_per_day`` releases a day from ``SONG_ORIGIN``), so a chart
    can pick "recent releases" for any date without storing anything.
    """

    SONG_ORIGIN = date(2020, 1, 1)
    SONGS_PER_DAY = 24
    ARTIST_COUNT = 6000

    def __init__(self, seed: int = 42) -> None:
        self.seed = seed
        self.seed_key = _mix(0x5EED, seed)
        self._namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"https://soundcharts-simulator.local/{seed}")
        self._engines: dict[str, _ChartEngine] = {}
        self._engines_lock = threading.Lock()
        self._uuid_lock = threading.Lock()
        self._song_uuid_to_id: dict[str, int] = {}
        self._song_uuid_horizon = 0  # song ids below this are indexed in _song_uuid_to_id
        self._artist_uuid_to_id: dict[str, int] | None = None
        self._rendered: OrderedDict[tuple[str, int], RankingSnapshot] = OrderedDict()
        self._rendered_lock = threading.Lock()

    # --- platforms and charts ---------------------------------------------------------------------------

    @staticmethod
    def platforms() -> list[dict[str, str]]:
        return [dict(platform) for platform in PLATFORMS]

    @staticmethod
    def charts(platform: str | None = None, country_code: str | None = None) -> list[ChartDefinition]:
        """Charts in a stable order, optionally filtered by platform and country ("" / GLOBAL = worldwide)."""
        result = list(CHARTS.values())
        if platform is not None:
            result = [chart for chart in result if chart.platform == platform]
        if country_code is not None:
            wanted = country_code.upper()
            if wanted in ("GLOBAL", "WW", "WORLDWIDE"):
                wanted = ""
            result = [chart for chart in result if chart.country_code == wanted]
        return result

    @staticmethod
    def chart(slug: str) -> ChartDefinition:
        try:
            return CHARTS[slug]
        except KeyError:
            raise UnknownEntityError(f"chart {slug!r}") from None

    # --- rankings -----------------------------------------------------------------------------------------

    def _engine(self, slug: str) -> _ChartEngine:
        engine = self._engines.get(slug)
        if engine is None:
            chart = self.chart(slug)
            with self._engines_lock:
                engine = self._engines.setdefault(slug, _ChartEngine(self, chart))
        return engine

    def ranking_dates(self, slug: str, now: datetime) -> list[datetime]:
        """Every ranking datetime of the chart published by ``now``, newest first."""
        chart = self.chart(slug)
        latest = chart.latest_period(now)
        return [chart.datetime_of_period(period) for period in range(latest, -1, -1)]

    def ranking_period(self, slug: str, day: date, now: datetime | None = None) -> int | None:
        """Period of the latest ranking dated on or before ``day`` (and published by ``now``), or None."""
        chart = self.chart(slug)
        period = chart.period_on_or_before(day)
        if now is not None:
            period = min(period, chart.latest_period(now))
        return period if period >= 0 else None

    def ranking(self, slug: str, day: date | datetime, now: datetime | None = None) -> RankingSnapshot:
        """The full ranking served for ``day`` (the latest one dated on or before it).

        Raises :class:`UnknownEntityError` for an unknown chart or a day before the history.
        """
        if isinstance(day, datetime):
            day = day.date()
        period = self.ranking_period(slug, day, now)
        if period is None:
            raise UnknownEntityError(f"no ranking of {slug!r} on or before {day}")
        return self.ranking_at_period(slug, period)

    def latest_ranking(self, slug: str, now: datetime) -> RankingSnapshot:
        period = self.chart(slug).latest_period(now)
        if period < 0:
            raise UnknownEntityError(f"no ranking of {slug!r} before {now}")
        return self.ranking_at_period(slug, period)

    def ranking_at_period(self, slug: str, period: int) -> RankingSnapshot:
        key = (slug, period)
        with self._rendered_lock:
            cached = self._rendered.get(key)
            if cached is not None:
                self._rendered.move_to_end(key)
                return cached
        snapshot = self._render(slug, period)
        with self._rendered_lock:
            self._rendered[key] = snapshot
            while len(self._rendered) > 512:
                self._rendered.popitem(last=False)
        return snapshot

    def _render(self, slug: str, period: int) -> RankingSnapshot:
        engine = self._engine(slug)
        chart = engine.chart
        record = engine.record(period)
        rank_date = chart.datetime_of_period(period)
        rank_date_text = _iso(rank_date)
        has_metric = chart.metric_type is not None
        unit = chart.time_on_chart_unit
        items = []
        for index, song_id in enumerate(record.songs):
            old = record.old_positions[index]
            position = index + 1
            items.append(
                {
                    "song": self.song_reference(song_id),
                    "position": position,
                    "positionEvolution": old - position if old else 0,
                    "metric": record.metrics[index] if has_metric else None,
                    "entryState": _ENTRY_STATE_TEXT[record.entry_states[index]],
                    "entryDate": _iso(chart.datetime_of_period(record.entry_periods[index])),
                    "rankDate": rank_date_text,
                    "oldPosition": old,
                    "timeOnChart": record.times_on_chart[index],
                    "timeOnChartUnit": unit,
                }
            )
        return RankingSnapshot(chart=chart, period=period, date=rank_date, items=items)

    # --- songs ----------------------------------------------------------------------------------------------

    def song_release_day(self, song_id: int) -> date:
        return self.SONG_ORIGIN + timedelta(days=song_id // self.SONGS_PER_DAY)

    def song_ids_released_between(self, start: date, end: date) -> tuple[int, int]:
        """Half-open id range ``[low, high)`` of songs released from ``start`` to ``end`` inclusive."""
        low = max(0, (start - self.SONG_ORIGIN).days * self.SONGS_PER_DAY)
        high = max(0, ((end - self.SONG_ORIGIN).days + 1) * self.SONGS_PER_DAY)
        return low, high

    @lru_cache(maxsize=200_000)  # noqa: B019 - the catalogue lives as long as the process
    def song_hotness(self, song_id: int) -> float:
        """Global popularity in [0, 1), skewed so that few songs are hits."""
        return _unit(_mix(self.seed_key, song_id, 7)) ** 3

    @lru_cache(maxsize=200_000)  # noqa: B019
    def song_uuid(self, song_id: int) -> str:
        return str(uuid.uuid5(self._namespace, f"song:{song_id}"))

    def song_id(self, song_uuid: str) -> int:
        """Reverse lookup; songs released up to a year after today are indexed lazily."""
        song_uuid = song_uuid.lower()
        found = self._song_uuid_to_id.get(song_uuid)
        if found is not None:
            return found
        horizon = self.song_ids_released_between(self.SONG_ORIGIN, datetime.now(UTC).date() + timedelta(400))[
            1
        ]
        with self._uuid_lock:
            if self._song_uuid_horizon < horizon:
                for song_id in range(self._song_uuid_horizon, horizon):
                    self._song_uuid_to_id[self.song_uuid(song_id)] = song_id
                self._song_uuid_horizon = horizon
        found = self._song_uuid_to_id.get(song_uuid)
        if found is None:
            raise UnknownEntityError(f"song {song_uuid!r}")
        return found

    @lru_cache(maxsize=100_000)  # noqa: B019
    def _song_record(self, song_id: int) -> dict[str, Any]:
        rng = random.Random(_mix(self.seed_key, song_id, 11))
        song_uuid = self.song_uuid(song_id)
        pattern = rng.random()
        if pattern < 0.4:
            name = f"{rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)}"
        elif pattern < 0.7:
            name = rng.choice(_PHRASES)
        elif pattern < 0.85:
            name = rng.choice(_WORDS_B)
        else:
            name = f"{rng.choice(_WORDS_B)} (feat. {rng.choice(_FIRST_NAMES)})"
        artist_count = rng.choices([1, 2, 3], weights=[70, 22, 8])[0]
        # The main artist is drawn with a skew so that popular artists have many songs.
        artists = []
        while len(artists) < artist_count:
            artist_id = int(self.ARTIST_COUNT * rng.random() ** 1.6)
            if artist_id not in artists:
                artists.append(artist_id)
        artist_refs = [self.artist_reference(artist_id) for artist_id in artists]
        country = rng.choice(["US", "US", "GB", "FR", "DE", "SE", "KR", "BR", "IT", "ES", "CA", "AU"])
        release_day = self.song_release_day(song_id)
        registrant = _random_string(rng, _BASE62[:36], 3).upper()
        isrc = f"{country}{registrant}{release_day.year % 100:02d}{song_id % 100000:05d}"
        labels = rng.sample(_LABELS, rng.choice([1, 1, 2]))
        genre_roots = rng.sample(sorted(_GENRES), rng.choice([1, 1, 2, 3]))
        genres = [
            {"root": root, "sub": rng.sample(_GENRES[root], rng.choice([1, 2]))} for root in genre_roots
        ]
        people = [f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}" for _ in range(rng.randint(1, 4))]
        audio = {
            "acousticness": round(rng.random() ** 2, 2),
            "danceability": round(rng.uniform(0.3, 0.95), 2),
            "energy": round(rng.uniform(0.2, 0.95), 2),
            "instrumentalness": round(rng.random() ** 4, 2),
            "key": rng.randint(0, 11),
            "liveness": round(rng.uniform(0.03, 0.4), 2),
            "loudness": round(rng.uniform(-14.0, -3.0), 2),
            "mode": rng.randint(0, 1),
            "speechiness": round(rng.random() ** 3 * 0.5, 2),
            "tempo": round(rng.uniform(70.0, 180.0), 2),
            "timeSignature": rng.choice([4, 4, 4, 3]),
            "valence": round(rng.random(), 2),
        }
        main_label = labels[0]
        hash_path = hashlib.md5(song_uuid.encode()).hexdigest()
        spotify_ids = [_random_string(rng, _BASE62, 22)]
        if rng.random() < 0.08:  # a re-release or duplicate upload: a second Spotify id
            spotify_ids.append(_random_string(rng, _BASE62, 22))
        return {
            "id": song_id,
            "artist_ids": artists,
            "hotness": self.song_hotness(song_id),
            "spotify_ids": spotify_ids,
            "identifier_seed": rng.getrandbits(64),
            "object": {
                "uuid": song_uuid,
                "name": name,
                "isrc": {"value": isrc, "countryCode": country, "countryName": COUNTRY_NAMES[country]},
                "creditName": " & ".join(ref["name"] for ref in artist_refs),
                "artists": artist_refs,
                "releaseDate": _day_iso(release_day),
                "copyright": f"℗ {release_day.year} {main_label[0]}",
                "appUrl": f"https://app.soundcharts.com/app/song/{song_uuid}/overview",
                "imageUrl": (
                    f"https://assets.soundcharts.com/song/{hash_path[0]}/{hash_path[1]}/{hash_path[2]}/"
                    f"{song_uuid}.jpg"
                ),
                "duration": rng.randint(105, 290),
                "explicit": rng.random() < 0.3,
                "genres": genres,
                "composers": people,
                "producers": people[: rng.randint(1, len(people))],
                "labels": [{"name": label, "type": group} for label, group in labels],
                "audio": audio,
                "languageCode": rng.choice(_LANGUAGES),
                "distributor": main_label[1],
            },
        }

    def song_by_id(self, song_id: int) -> dict[str, Any]:
        return _deep_copy(self._song_record(song_id)["object"])

    def song(self, song_uuid: str) -> dict[str, Any]:
        """Song metadata object exactly as ``/api/v2.25/song/{uuid}`` serves it."""
        return self.song_by_id(self.song_id(song_uuid))

    @lru_cache(maxsize=100_000)  # noqa: B019
    def song_reference(self, song_id: int) -> dict[str, Any]:
        """The short song object of ranking items: uuid, name, creditName, imageUrl."""
        song = self._song_record(song_id)["object"]
        return {
            "uuid": song["uuid"],
            "name": song["name"],
            "creditName": song["creditName"],
            "imageUrl": song["imageUrl"],
        }

    def song_identifiers(self, song_uuid: str) -> list[dict[str, Any]]:
        """All platform identifiers of a song (default ones first per platform)."""
        record = self._song_record(self.song_id(song_uuid))
        rng = random.Random(record["identifier_seed"])
        items: list[dict[str, Any]] = []

        def add(platform: str, identifier: str, url: str | None, default: bool = True) -> None:
            name = "ISRC" if platform == "isrc" else PLATFORM_NAMES.get(platform, platform.title())
            items.append(
                {
                    "platformName": name,
                    "platformCode": platform,
                    "identifier": identifier,
                    "url": url,
                    "default": default,
                }
            )

        isrc = record["object"]["isrc"]["value"]
        add("isrc", isrc, None)
        for index, spotify_id in enumerate(record["spotify_ids"]):
            add("spotify", spotify_id, f"https://open.spotify.com/track/{spotify_id}", default=index == 0)
        deezer = str(rng.randint(10**8, 4 * 10**9))
        add("deezer", deezer, f"https://www.deezer.com/track/{deezer}")
        apple = str(rng.randint(10**9, 2 * 10**9))
        add("apple-music", apple, f"https://music.apple.com/us/song/{apple}")
        youtube = _random_string(rng, _YOUTUBE_ALPHABET, 11)
        add("youtube", youtube, f"https://www.youtube.com/watch?v={youtube}")
        shazam = str(rng.randint(10**8, 10**9))
        add("shazam", shazam, f"https://www.shazam.com/track/{shazam}")
        amazon = "B0" + _random_string(rng, _BASE62[:36], 8)
        add("amazon", amazon, f"https://music.amazon.com/tracks/{amazon}")
        tidal = str(rng.randint(10**7, 5 * 10**8))
        add("tidal", tidal, f"https://tidal.com/browse/track/{tidal}")
        soundcloud = str(rng.randint(10**8, 2 * 10**9))
        if rng.random() < 0.5:
            add("soundcloud", soundcloud, f"https://api.soundcloud.com/tracks/{soundcloud}")
        tiktok = str(rng.randint(10**18, 8 * 10**18))
        if rng.random() < 0.4:
            add("tiktok", tiktok, f"https://www.tiktok.com/music/-{tiktok}")
        return items

    def song_audience_identifiers(self, song_uuid: str, platform: str) -> list[str]:
        """Identifiers that carry a plot in the song's audience series for ``platform``."""
        if platform not in SONG_AUDIENCE_PLATFORMS:
            raise UnknownEntityError(f"platform {platform!r}")
        if platform == "airplay":  # radio monitoring matches recordings by ISRC
            return [self.song(song_uuid)["isrc"]["value"]]
        return [
            item["identifier"]
            for item in self.song_identifiers(song_uuid)
            if item["platformCode"] == platform
        ]

    def last_crawl_day(self, now: datetime) -> date:
        """Audience series run up to the day before ``now`` (today's numbers are not crawled yet)."""
        return now.astimezone(UTC).date() - timedelta(days=1)

    def song_audience(
        self,
        song_uuid: str,
        platform: str,
        start: date,
        end: date,
        identifier: str | None = None,
        now: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Audience points from ``end`` back to ``start`` (newest first), one plot per identifier.

        Days before the release, and after the last crawl day when ``now`` is given, have no point.
        """
        song_id = self.song_id(song_uuid)
        identifiers = self.song_audience_identifiers(song_uuid, platform)
        if identifier is not None:
            identifiers = [value for value in identifiers if value == identifier]
        if not identifiers:
            return []
        release = self.song_release_day(song_id)
        if now is not None:
            end = min(end, self.last_crawl_day(now))
        start = max(start, release)
        record = self._song_record(song_id)
        scale = _SONG_AUDIENCE_SCALE[platform]
        # Lifetime daily streams at peak; hot songs reach millions a day.
        peak = 20_000 + 6_000_000 * record["hotness"] * scale
        curves = []
        for index, value in enumerate(identifiers):
            key = _mix(self.seed_key, song_id, _text_key(platform), _text_key(value))
            share = 1.0 if index == 0 else (0.0 if _unit(key) < 0.4 else 0.03)  # duplicates stay tiny or 0
            if platform in ("shazam", "tiktok") and _unit(_mix(key, 5)) < 0.1:
                share = 0.0  # some songs never register on these platforms
            half_life = 30 + 400 * _unit(_mix(key, 6))
            curves.append((value, peak * share, half_life, platform == "airplay"))
        items = []
        day = end
        while day >= start:
            age = (day - release).days
            plots = []
            for value, height, half_life, is_daily in curves:
                if is_daily:  # spins per day, not cumulative; quiet days are 0
                    number = int(
                        height * 0.5 ** (age / half_life) * (0.5 + _unit(_mix(age, _text_key(value))))
                    )
                else:
                    tau = half_life / math.log(2)
                    number = int(height * (tau * (1.0 - math.exp(-(age + 1) / tau)) + 0.02 * (age + 1)))
                plots.append({"identifier": value, "value": number})
            items.append({"date": _day_iso(day), "plots": plots})
            day -= timedelta(days=1)
        return items

    # --- artists --------------------------------------------------------------------------------------------

    @lru_cache(maxsize=20_000)  # noqa: B019
    def artist_uuid(self, artist_id: int) -> str:
        return str(uuid.uuid5(self._namespace, f"artist:{artist_id}"))

    def artist_id(self, artist_uuid: str) -> int:
        if self._artist_uuid_to_id is None:
            with self._uuid_lock:
                if self._artist_uuid_to_id is None:
                    self._artist_uuid_to_id = {
                        self.artist_uuid(artist_id): artist_id for artist_id in range(self.ARTIST_COUNT)
                    }
        try:
            return self._artist_uuid_to_id[artist_uuid.lower()]
        except KeyError:
            raise UnknownEntityError(f"artist {artist_uuid!r}") from None

    @lru_cache(maxsize=20_000)  # noqa: B019
    def _artist_record(self, artist_id: int) -> dict[str, Any]:
        rng = random.Random(_mix(self.seed_key, artist_id, 13))
        artist_uuid = self.artist_uuid(artist_id)
        kind = rng.random()
        if kind < 0.55:
            name, artist_type = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}", "person"
        elif kind < 0.8:
            name, artist_type = (
                f"{rng.choice(_STAGE_NAMES)}{rng.choice(['', ' ' + str(rng.randint(2, 99))])}",
                "person",
            )
        else:
            name, artist_type = f"The {rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)}", "group"
        slug = f"{_slugify(name)}-{artist_id}"
        country = rng.choice([code for code, _ in COUNTRIES[:20]])
        roots = rng.sample(sorted(_GENRES), rng.choice([1, 2]))
        popularity = (1.0 - artist_id / self.ARTIST_COUNT) ** 3  # low ids are the stars
        birth = (
            date(1965, 1, 1) + timedelta(days=rng.randint(0, 365 * 40)) if artist_type == "person" else None
        )
        hash_path = hashlib.md5(artist_uuid.encode()).hexdigest()
        return {
            "popularity": popularity,
            "spotify_id": _random_string(rng, _BASE62, 22),
            "youtube_id": "UC" + _random_string(rng, _YOUTUBE_ALPHABET, 22),
            "object": {
                "uuid": artist_uuid,
                "slug": slug,
                "name": name,
                "appUrl": f"https://app.soundcharts.com/app/artist/{slug}/overview",
                "imageUrl": (
                    f"https://assets.soundcharts.com/artist/{hash_path[0]}/{hash_path[1]}/{hash_path[2]}/"
                    f"{artist_uuid}.jpg"
                ),
                "webUrl": f"https://www.{_slugify(name).replace('-', '')}.com"
                if rng.random() < 0.5
                else None,
                "countryCode": country,
                "genres": [{"root": root, "sub": rng.sample(_GENRES[root], 1)} for root in roots],
                "biography": f"{name} is an artist from {COUNTRY_NAMES[country]}.",
                "isni": "".join(str(rng.randint(0, 9)) for _ in range(16)) if rng.random() < 0.6 else None,
                "ipi": str(rng.randint(10**8, 10**10)) if rng.random() < 0.5 else None,
                "gender": rng.choice(["male", "female", "non-binary"])
                if artist_type == "person"
                else "mixed",
                "type": artist_type,
                "birthDate": _day_iso(birth) if birth else None,
                "careerStage": _CAREER_STAGES[min(5, int(popularity * 6))],
                "growthLevel": rng.choice(_GROWTH_LEVELS),
                "cityName": "",
            },
        }

    def artist_reference(self, artist_id: int) -> dict[str, Any]:
        artist = self._artist_record(artist_id)["object"]
        return {key: artist[key] for key in ("uuid", "slug", "name", "appUrl", "imageUrl")}

    def artist(self, artist_uuid: str) -> dict[str, Any]:
        """Artist metadata object exactly as ``/api/v2.9/artist/{uuid}`` serves it."""
        return _deep_copy(self._artist_record(self.artist_id(artist_uuid))["object"])

    def artist_audience(
        self, artist_uuid: str, platform: str, start: date, end: date, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Audience items per day from ``end`` back to ``start``, newest first, as the API serves them.

        Every item has ``date`` and ``followerCount`` plus the platform's other metrics
        (:data:`ARTIST_AUDIENCE_METRICS`); a metric may be 0 (an artist with no posts yet), never missing
        on a platform that has it.
        """
        if platform not in ARTIST_AUDIENCE_PLATFORMS:
            raise UnknownEntityError(f"platform {platform!r}")
        artist_id = self.artist_id(artist_uuid)
        record = self._artist_record(artist_id)
        if now is not None:
            end = min(end, self.last_crawl_day(now))
        key = _mix(self.seed_key, artist_id, _text_key(platform))
        base = (2_000 + 40_000_000 * record["popularity"]) * _ARTIST_AUDIENCE_SCALE[platform]
        growth = base * (0.0002 + 0.002 * _unit(_mix(key, 1)))  # followers gained per day
        # Some artists have posted nothing on a platform: a real 0, which must be stored as 0.
        silent = _unit(_mix(key, 2)) < 0.1
        origin = self.SONG_ORIGIN
        items = []
        day = end
        while day >= start:
            age = (day - origin).days
            wiggle = (_unit(_mix(key, age)) - 0.5) * growth * 0.5  # small daily ups and downs
            followers = int(base + growth * age + wiggle)
            item: dict[str, Any] = {"date": _day_iso(day), "followerCount": followers}
            for name, share, growth_factor in ARTIST_AUDIENCE_METRICS[platform]:
                if silent and name == "postCount":
                    item[name] = 0
                else:
                    item[name] = int(share * (base + growth * growth_factor * age))
            items.append(item)
            day -= timedelta(days=1)
        return items

    def radio_station(self, index: int) -> dict[str, Any]:
        """Radio object of a ``broadcast-groups`` item (BroadcastGroupCollectionResponse ``radio``)."""
        code, country = COUNTRIES[index % 20]
        slug = f"{code.lower()}-radio-{index:03d}"
        return {
            "name": f"{country} Radio {index}",
            "slug": slug,
            "countryCode": code,
            "countryName": country,
            "cityName": "",
            "timeZone": "UTC",
            "imageUrl": f"https://assets.soundcharts.com/radio/{slug}.jpg",
        }

    def airplay_station_count(self, artist_uuid: str) -> int:
        """Stations airing an artist: 245 for the first artists down to 3 (stars are on more stations)."""
        return max(3, 245 - self.artist_id(artist_uuid) // 25)

    def airplay_spins(self, artist_uuid: str, station: int, day: date) -> int:
        """Spins on station ``station`` (0-based) on ``day``: ``(station + artist id + day ordinal) % 4``.

        A closed form on purpose, so tests compute daily totals by hand (0..3 per station and day).
        """
        return (station + self.artist_id(artist_uuid) + day.toordinal()) % 4

    def artist_broadcast_groups(
        self, artist_uuid: str, start: date, end: date, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        """``broadcast-groups`` items: per station, its spins summed over ``[start, end]``; stations without a
        spin in the period are left out; most played first (then by slug). Days after the last crawled day
        have no spins yet."""
        if now is not None:
            end = min(end, self.last_crawl_day(now))
        days = [start + timedelta(days=offset) for offset in range(max(0, (end - start).days + 1))]
        items: list[dict[str, Any]] = []
        for station in range(self.airplay_station_count(artist_uuid)):
            plays = sum(self.airplay_spins(artist_uuid, station, day) for day in days)
            if plays:
                items.append({"playCount": plays, "radio": self.radio_station(station)})
        items.sort(key=lambda item: (-item["playCount"], item["radio"]["slug"]))
        return items


def _deep_copy(value: Any) -> Any:
    """Copy plain JSON data (cheaper than :func:`copy.deepcopy`), so callers cannot mutate the cache."""
    if isinstance(value, dict):
        return {key: _deep_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_deep_copy(item) for item in value]
    return value


def parse_ranking_datetime(text: str) -> datetime:
    """The moment named by a ranking path parameter; a bare date means midnight UTC of that day."""
    text = text.strip()
    day = parse_ranking_day(text)
    rest = text[10:]
    if not rest:
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    moment = datetime.fromisoformat(f"{text[:10]}{rest.replace(' ', '+')}".replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_ranking_day(text: str) -> date:
    """Calendar date of a ranking path parameter: ``2026-11-01``, ``...T00:00:00Z``, ``...+00:00``."""
    text = text.strip()
    if len(text) < 10:
        raise ValueError(text)
    day = date.fromisoformat(text[:10])
    rest = text[10:]
    if rest:
        # Clients send ATOM datetimes; '+' may arrive decoded, encoded or turned into a space.
        normalised = rest.replace(" ", "+")
        datetime.fromisoformat(f"{text[:10]}{normalised}".replace("Z", "+00:00"))
    return day
