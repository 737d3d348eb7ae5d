"""Typed models of Soundcharts API payloads.

They accept every recorded response in ``shared/fixtures/recorded`` unchanged (real payloads are not always
tidy: ``page.next`` may be ``""`` and ``page.previous`` the string ``"None"``). Unknown keys are ignored so
that additive API changes do not break us; a missing or mistyped key we rely on raises, and
:func:`parse_payload` turns that into an error naming the endpoint and the field.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class SoundchartsModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class ApiErrorItem(SoundchartsModel):
    key: str | None = None
    code: int | None = None
    message: str | None = None


class Page(SoundchartsModel):
    offset: int = 0
    limit: int = 100
    total: int | None = None
    next: str | None = None
    previous: str | None = None

    @field_validator("next", "previous", mode="before")
    @classmethod
    def _blank_to_none(cls, value: Any) -> Any:
        # Seen in recorded responses: "" and the string "None" both mean "no such page".
        if value in ("", "None", "null"):
            return None
        return value


ItemT = TypeVar("ItemT")


class Collection(SoundchartsModel, Generic[ItemT]):
    """One page of any Soundcharts collection: ``items``, the ``page`` cursor, ``related`` and ``errors``.

    Every collection endpoint has this envelope; ``Collection[Model]`` is the page of that endpoint (the
    names below, e.g. ``ChartListPage``, are those parametrisations).
    """

    related: dict[str, Any] | None = None
    items: list[ItemT]
    page: Page | None = None
    errors: list[ApiErrorItem] = []


# --- charts -----------------------------------------------------------------------------------------------


class Platform(SoundchartsModel):
    code: str
    name: str


class ChartMetric(SoundchartsModel):
    type: str | None = None
    description: str | None = None


class ChartInfo(SoundchartsModel):
    slug: str
    name: str
    type: str | None = None
    platform: str
    frequency: str
    country_code: str | None = Field(default=None, alias="countryCode")
    country_name: str | None = Field(default=None, alias="countryName")
    city_name: str | None = Field(default=None, alias="cityName")
    max_results_count: int | None = Field(default=None, alias="maxResultsCount")
    web_url: str | None = Field(default=None, alias="webUrl")
    metric: ChartMetric | None = None


class SongRef(SoundchartsModel):
    uuid: str
    name: str
    credit_name: str | None = Field(default=None, alias="creditName")
    image_url: str | None = Field(default=None, alias="imageUrl")


class RankingItem(SoundchartsModel):
    song: SongRef
    position: int
    position_evolution: int | None = Field(default=None, alias="positionEvolution")
    metric: float | None = None
    entry_state: str | None = Field(default=None, alias="entryState")
    entry_date: datetime | None = Field(default=None, alias="entryDate")
    rank_date: datetime | None = Field(default=None, alias="rankDate")
    old_position: int | None = Field(default=None, alias="oldPosition")
    time_on_chart: int | None = Field(default=None, alias="timeOnChart")
    time_on_chart_unit: str | None = Field(default=None, alias="timeOnChartUnit")


class RankingRelated(SoundchartsModel):
    chart: ChartInfo
    date: datetime


class ChartRankingPage(Collection[RankingItem]):
    """One page of ``GET /api/v2.14/chart/song/{slug}/ranking/{datetime|latest}``: its chart and date
    (``related``) and its cursor are required, a ranking cannot be placed without them."""

    related: RankingRelated
    page: Page


class ChartRanking(SoundchartsModel):
    """A whole ranking: every page merged. ``raw_pages`` keeps the payloads for audit (JSONB)."""

    chart: ChartInfo
    date: datetime
    items: list[RankingItem]
    total: int
    raw_pages: list[dict[str, Any]] = []


# --- songs ------------------------------------------------------------------------------------------------


class Isrc(SoundchartsModel):
    value: str
    country_code: str | None = Field(default=None, alias="countryCode")
    country_name: str | None = Field(default=None, alias="countryName")


class ArtistRef(SoundchartsModel):
    uuid: str
    name: str
    slug: str | None = None
    app_url: str | None = Field(default=None, alias="appUrl")
    image_url: str | None = Field(default=None, alias="imageUrl")


class Genre(SoundchartsModel):
    root: str
    sub: list[str] = []


class Label(SoundchartsModel):
    name: str
    type: str | None = None


class AudioFeatures(SoundchartsModel):
    acousticness: float | None = None
    danceability: float | None = None
    energy: float | None = None
    instrumentalness: float | None = None
    key: int | None = None
    liveness: float | None = None
    loudness: float | None = None
    mode: int | None = None
    speechiness: float | None = None
    tempo: float | None = None
    time_signature: int | None = Field(default=None, alias="timeSignature")
    valence: float | None = None


class SongMetadata(SoundchartsModel):
    uuid: str
    name: str
    isrc: Isrc | None = None
    credit_name: str | None = Field(default=None, alias="creditName")
    artists: list[ArtistRef] = []
    release_date: datetime | None = Field(default=None, alias="releaseDate")
    copyright: str | None = None
    app_url: str | None = Field(default=None, alias="appUrl")
    image_url: str | None = Field(default=None, alias="imageUrl")
    duration: int | None = None  # seconds
    explicit: bool | None = None
    genres: list[Genre] = []
    composers: list[str] = []
    producers: list[str] = []
    labels: list[Label] = []
    audio: AudioFeatures | None = None
    language_code: str | None = Field(default=None, alias="languageCode")
    distributor: str | None = None

    @field_validator("isrc", mode="before")
    @classmethod
    def _isrc_string_to_object(cls, value: Any) -> Any:
        # Older schema versions sent the ISRC as a bare string.
        if isinstance(value, str):
            return {"value": value} if value else None
        return value

    @field_validator("release_date", mode="before")
    @classmethod
    def _date_only_release(cls, value: Any) -> Any:
        if isinstance(value, str) and len(value) == 10:
            return f"{value}T00:00:00+00:00"
        return value


class SongMetadataResponse(SoundchartsModel):
    type: str | None = None
    object: SongMetadata
    errors: list[ApiErrorItem] = []


class SongIdentifier(SoundchartsModel):
    platform_name: str | None = Field(default=None, alias="platformName")
    platform_code: str = Field(alias="platformCode")
    identifier: str
    url: str | None = None
    default: bool = False


class AudiencePlot(SoundchartsModel):
    identifier: str | None = None
    value: float | None = None


class AudiencePoint(SoundchartsModel):
    date: datetime
    plots: list[AudiencePlot] = []


# --- artists ----------------------------------------------------------------------------------------------


class ArtistMetadata(SoundchartsModel):
    uuid: str
    name: str
    slug: str | None = None
    app_url: str | None = Field(default=None, alias="appUrl")
    image_url: str | None = Field(default=None, alias="imageUrl")
    web_url: str | None = Field(default=None, alias="webUrl")
    country_code: str | None = Field(default=None, alias="countryCode")
    genres: list[Genre | str] = []
    biography: str | None = None
    isni: str | None = None
    ipi: str | None = None
    gender: str | None = None
    type: str | None = None
    birth_date: date | datetime | None = Field(default=None, alias="birthDate")
    career_stage: str | None = Field(default=None, alias="careerStage")
    growth_level: str | None = Field(default=None, alias="growthLevel")
    city_name: str | None = Field(default=None, alias="cityName")


class ArtistMetadataResponse(SoundchartsModel):
    type: str | None = None
    object: ArtistMetadata
    errors: list[ApiErrorItem] = []


#: The named metrics of an artist audience item, by the stored column name. The API sends each only on
#: the platforms that have it; ``followerCount`` is the platform's primary fan metric whatever the platform
#: calls it (YouTube subscribers, Deezer fans...).
ARTIST_AUDIENCE_METRICS: dict[str, str] = {
    "follower_count": "followerCount",
    "like_count": "likeCount",
    "following_count": "followingCount",
    "post_count": "postCount",
    "view_count": "viewCount",
}


class ArtistAudiencePoint(SoundchartsModel):
    """``/api/v2/artist/{uuid}/audience/{platform}`` item: a date and the metrics the platform has."""

    date: datetime
    follower_count: int | None = Field(default=None, alias="followerCount")
    like_count: int | None = Field(default=None, alias="likeCount")
    following_count: int | None = Field(default=None, alias="followingCount")
    post_count: int | None = Field(default=None, alias="postCount")
    view_count: int | None = Field(default=None, alias="viewCount")

    def metrics(self) -> dict[str, int]:
        """The metrics served, by stored column name (a metric not served is absent, never 0)."""
        return {
            column: value
            for column in ARTIST_AUDIENCE_METRICS
            if (value := getattr(self, column)) is not None
        }


class ArtistStreamingPoint(SoundchartsModel):
    """``/api/v2/artist/{uuid}/streaming/{platform}`` item, with city and country breakdowns."""

    date: datetime
    value: float | None = None
    city_plots: list[dict[str, Any]] = Field(default=[], alias="cityPlots")
    country_plots: list[dict[str, Any]] = Field(default=[], alias="countryPlots")


class BroadcastRadio(SoundchartsModel):
    """The radio station of a broadcast group (docs: BroadcastGroupCollectionResponse ``items[].radio``)."""

    slug: str
    name: str | None = None
    country_code: str | None = Field(default=None, alias="countryCode")
    country_name: str | None = Field(default=None, alias="countryName")
    city_name: str | None = Field(default=None, alias="cityName")
    time_zone: str | None = Field(default=None, alias="timeZone")
    image_url: str | None = Field(default=None, alias="imageUrl")


class BroadcastGroup(SoundchartsModel):
    """``/api/v2/artist/{uuid}/broadcast-groups`` item: one station's spins over the WHOLE requested period.

    There is no per-day breakdown: a daily figure needs a one-day request. ``playCount`` may be null (an
    unknown count, never read as 0).
    """

    play_count: int | None = Field(alias="playCount")
    radio: BroadcastRadio


class TeamUsage(SoundchartsModel):
    """``/api/v2/team/usage``: the shape is not documented precisely, so everything is kept."""

    model_config = ConfigDict(extra="allow", frozen=True)


# --- the pages of each collection endpoint ---------------------------------------------------------------

ChartListPage = Collection[ChartInfo]  # /api/v2/chart/song/by-platform/{platform}
PlatformListPage = Collection[Platform]  # /api/v2/chart/song/platforms
RankingDatesPage = Collection[datetime]  # /api/v2/chart/song/{slug}/available-rankings (plain datetimes)
SongMetadataCollection = Collection[SongMetadata]  # /api/v2.25/song/{uuid},{uuid}...
SongIdentifiersPage = Collection[SongIdentifier]  # /api/v2/song/{uuid}/identifiers
SongAudiencePage = Collection[AudiencePoint]  # /api/v2/song/{uuid}/audience/{platform} (newest first)
ArtistMetadataCollection = Collection[ArtistMetadata]  # /api/v2.9/artist/{uuid},{uuid}...
ArtistAudiencePage = Collection[ArtistAudiencePoint]  # /api/v2/artist/{uuid}/audience/{platform}
ArtistStreamingPage = Collection[ArtistStreamingPoint]  # /api/v2/artist/{uuid}/streaming/{platform}
ArtistBroadcastGroupsPage = Collection[BroadcastGroup]  # /api/v2/artist/{uuid}/broadcast-groups


# --- validation entry point --------------------------------------------------------------------------------


class PayloadValidationError(ValueError):
    """A response did not fit its model. The message names the endpoint and the offending field(s)."""

    def __init__(self, endpoint: str, error: ValidationError) -> None:
        fields = []
        for item in error.errors()[:5]:
            location = ".".join(str(part) for part in item["loc"]) or "<root>"
            fields.append(f"{location}: {item['msg']}")
        self.endpoint = endpoint
        self.fields = [".".join(str(p) for p in item["loc"]) for item in error.errors()]
        super().__init__(f"unexpected response from {endpoint}: " + "; ".join(fields))


M = TypeVar("M", bound=BaseModel)


def parse_payload(model: type[M], payload: Any, endpoint: str) -> M:
    """Validate ``payload`` into ``model``; :class:`PayloadValidationError` names endpoint and field."""
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise PayloadValidationError(endpoint, error) from None
