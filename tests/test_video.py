"""Videos, round video messages, GIFs and voice notes: the clip code on real clips made
with PyAV, and the whole path end to end over the fake Bot API.

The stripped copies are read back with an independent reader: Debian's ``ffprobe`` (installed by
.ci/run), and PyAV's demuxer as well.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import struct
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest
import telegram
from aiohttp.test_utils import TestClient, TestServer

from bot import video
from bot.config import Config, Destination, StorageSettings, TelegramSettings
from bot.fake_telegram import FakeTelegram
from bot.photos import hamming
from bot.report import AnswerError, Kind, answer_with_voice, new_draft, photos_problem, reopen_field
from bot.store import Store
from bot.web.settings import MB, WebSettings
from handlers.common import Services
from handlers.outbox import _uploadable
from handlers.web import make_web_app
from tests.clips import add_loci, make_clip, make_voice
from tests.kit import CODE, HESHUN, STAFF_ADMIN, STAFF_GROUP, Person, rows
from tests.test_moderation import card_for
from tests.test_web import SECRET, hidden, sighting

CLIP_PLACE = "+37.3501+113.6102/"  # where the phone says the clip was made (©xyz, ISO 6709)
PHONE_TAGS = {
    "location": CLIP_PLACE,
    "creation_time": "2026-11-30T01:02:03.000000Z",
    "make": "Xiaomi",
    "model": "Redmi Note 12",
    "com.android.version": "13",
    "encoder": "MediaTek HEVC phone encoder 7.1",
}
# What a metadata-free MP4 may still say about itself: the file type, the track kinds.
STRUCTURAL_TAGS = {
    "major_brand", "minor_version", "compatible_brands", "handler_name", "vendor_id", "language"
}
RESEARCHERS, PUBLIC = -1002000000001, -1002000000002


def ffprobe_tags(path: Path) -> dict[str, Any]:
    """Container and stream tags as Debian's ffprobe reads them."""
    if shutil.which("ffprobe") is None:
        pytest.skip("ffprobe is not installed (apt-get install ffmpeg; .ci/run does)")
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format_tags:stream_tags:stream=codec_type,codec_name",
         "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    )
    return json.loads(out.stdout)


def all_tags(probed: dict[str, Any]) -> dict[str, str]:
    tags = dict(probed.get("format", {}).get("tags", {}))
    for stream in probed["streams"]:
        tags.update(stream.get("tags", {}))
    return tags


def assert_no_metadata(path: Path) -> None:
    """Nothing but structural tags, read by ffprobe and by PyAV; no phone or encoder text in the bytes."""
    probed = ffprobe_tags(path)
    tags = all_tags(probed)
    if path.suffix == ".webm":
        # Matroska requires a WritingApp ("Lavf" in bit-exact mode: ours, not the phone's) and
        # FFmpeg stores each track's length as a DURATION tag.
        assert tags.pop("encoder", "Lavf") == "Lavf" and tags.pop("DURATION", "")[:3] == "00:"
    assert set(tags) <= STRUCTURAL_TAGS, tags
    assert tags.get("vendor_id", "[0][0][0][0]") == "[0][0][0][0]"
    assert {s["codec_type"] for s in probed["streams"]} <= {"video", "audio"}  # no data/GPS tracks
    with av.open(str(path)) as container:
        allowed = STRUCTURAL_TAGS | ({"encoder"} if path.suffix == ".webm" else set())
        assert not set(container.metadata) - allowed
    data = path.read_bytes()
    needles = [b"Xiaomi", b"Redmi", b"37.35", b"2026-11-30", b"\xa9xyz", b"MediaTek"]
    needles += [b"x264", b"x265", b"Lavc"]  # encoders' own signatures (SEI, user data)
    for needle in needles + ([b"Lavf"] if path.suffix != ".webm" else []):
        assert needle not in data, needle


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One small set of real clips for the whole module (made once: encoding is the slow part)."""
    folder = tmp_path_factory.mktemp("clips")
    made = {
        "phone": make_clip(folder / "phone.mov", fmt="mov", metadata=PHONE_TAGS),
        "plain": make_clip(folder / "plain.mp4", seed=3),
        # The same scene as "plain", re-encoded smaller and worse: what Telegram makes of a forward.
        "forwarded": make_clip(
            folder / "forwarded.mp4", seed=3, size=(256, 144), bit_rate=40_000, audio=False
        ),
        "other": make_clip(folder / "other.mp4", seed=4),
        "long": make_clip(folder / "long.mp4", seconds=8, rate=4, audio=False),
        "round": make_clip(folder / "round.mp4", size=(240, 240), seed=5),
        "gif": make_clip(folder / "gif.mp4", seed=6, audio=False),
        "voice": make_voice(folder / "voice.ogg", 3, metadata={"artist": "Wang Dapeng", "encoder": "Phone"}),
        "mpeg4": make_clip(folder / "old.3gp", fmt="3gp", codec="mpeg4", size=(176, 144), audio=False),
        "h263": make_clip(folder / "nokia.3gp", fmt="3gp", codec="h263", size=(176, 144), audio=False),
        "hevc": make_clip(folder / "iphone.mov", fmt="mov", codec="libx265", metadata=PHONE_TAGS,
                          audio=False),
        "webm": make_clip(folder / "browser.webm", fmt="webm", codec="libvpx-vp9",
                          metadata={"title": "Wang's clip"}, audio=False),
    }
    loci = make_clip(folder / "loci.mp4", seed=7, audio=False)
    add_loci(loci, 37.3501, 113.6102, 1050)
    made["loci"] = loci
    xmp = make_clip(folder / "xmp.mp4", seed=8, audio=False)
    packet = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>'
              b'<rdf:Description exif:GPSLatitude="37,21.006N" exif:GPSLongitude="113,36.612E"'
              b' xmp:CreateDate="2026-11-29T08:00:00+08:00"/></rdf:RDF></x:xmpmeta>')
    box = bytes.fromhex("be7acfcb97a942e89c71999491e3afac") + packet
    xmp.write_bytes(xmp.read_bytes() + struct.pack(">I4s", 8 + len(box), b"uuid") + box)
    made["xmp"] = xmp
    return made


# --- the clip code ------------------------------------------------------------------------------


def test_the_phone_tags_are_really_in_the_test_clip(clips: dict[str, Path]) -> None:
    """Guards the tests below: the GPS position is written as QuickTime ©xyz, and ffprobe reads it."""
    tags = ffprobe_tags(clips["phone"])["format"]["tags"]
    assert tags["location"] == CLIP_PLACE and tags["make"] == "Xiaomi"
    assert b"\xa9xyz" in clips["phone"].read_bytes()


@pytest.mark.parametrize(
    ("name", "latitude", "longitude", "taken"),
    [
        ("phone", 37.3501, 113.6102, datetime(2026, 11, 30, 1, 2, 3, tzinfo=UTC)),
        ("loci", 37.3501, 113.6102, None),
        ("xmp", 37.3501, 113.6102, datetime(2026, 11, 29, 0, 0, tzinfo=UTC)),
    ],
)
def test_what_the_clip_knows(clips: dict[str, Path], name: str, latitude: float, longitude: float,
                             taken: datetime | None) -> None:
    facts = video.read_facts(clips[name], now=datetime(2026, 12, 6, tzinfo=UTC))
    assert facts.latitude == pytest.approx(latitude, abs=1e-4)
    assert facts.longitude == pytest.approx(longitude, abs=1e-4)
    assert facts.taken_at == taken


def test_plain_clip_knows_nothing(clips: dict[str, Path]) -> None:
    facts = video.read_facts(clips["plain"])
    assert facts.latitude is None and facts.longitude is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+37.3301+113.5702/", (37.3301, 113.5702, None)),
        ("-33.8688+151.2093+012.000/", (-33.8688, 151.2093, 12.0)),
        ("+3719.806+11334.212/", (37.33010, 113.57020, None)),  # ±DDMM.MMM
        ("+371948.36+1133412.72/", (37.33010, 113.57020, None)),  # ±DDMMSS.SS
        ("+00.0000+000.0000/", None),  # "no fix"
        ("+97.0+113.0/", None),
        ("Beijing", None),
    ],
)
def test_iso6709(text: str, expected: tuple[float, float, float | None] | None) -> None:
    parsed = video.parse_iso6709(text)
    if expected is None:
        assert parsed is None
    else:
        assert parsed is not None and parsed == pytest.approx(expected, abs=1e-4)


def test_stripped_copy_has_no_metadata_and_plays(clips: dict[str, Path], tmp_path: Path) -> None:
    processed = video.process_video(clips["phone"], tmp_path, max_seconds=60)
    assert not processed.reencoded and processed.stripped_path.suffix == ".mp4"
    assert_no_metadata(processed.stripped_path)
    with av.open(str(processed.stripped_path)) as copy, av.open(str(clips["phone"])) as original:
        # The same packets: remuxed, not re-encoded (the evidence keeps its quality).
        frames = sum(1 for _ in copy.decode(video=0))
        assert frames == sum(1 for _ in original.decode(video=0)) == 24
        assert copy.streams.audio and copy.streams.video[0].codec_context.name == "h264"
    assert processed.duration_s == pytest.approx(2.0, abs=0.1)
    assert (processed.width, processed.height) == (320, 180)
    assert processed.facts.latitude == pytest.approx(37.3501)


@pytest.mark.parametrize(
    ("name", "suffix", "reencoded"),
    [
        ("mpeg4", ".mp4", True),  # MPEG-4 Part 2 in 3GP: its user data names the encoder, re-encoded
        ("h263", ".mp4", True),  # H.263 (old phones' 3GP): MP4 cannot carry it, re-encoded
        ("hevc", ".mp4", False),  # iPhone-style HEVC in QuickTime with the phone's tags: copied
        ("webm", ".webm", False),  # VP9 from a browser: stays WebM
    ],
)
def test_every_container_gets_a_copy_without_metadata(
    clips: dict[str, Path], tmp_path: Path, name: str, suffix: str, reencoded: bool
) -> None:
    processed = video.process_video(clips[name], tmp_path, max_seconds=60)
    assert processed.stripped_path.suffix == suffix and processed.reencoded is reencoded
    assert_no_metadata(processed.stripped_path)  # tags, and the encoders' signatures (SEI, user data)
    with av.open(str(processed.stripped_path)) as copy:
        assert sum(1 for _ in copy.decode(video=0)) >= 20  # it plays


def test_forwarded_copy_hashes_alike_other_clip_does_not(clips: dict[str, Path], tmp_path: Path) -> None:
    plain = video.process_video(clips["plain"], tmp_path, max_seconds=60)
    forwarded = video.process_video(clips["forwarded"], tmp_path, max_seconds=60)
    other = video.process_video(clips["other"], tmp_path, max_seconds=60)
    assert plain.sha256 != forwarded.sha256
    assert hamming(plain.phash, forwarded.phash) <= 6
    assert min(hamming(plain.phash, h) for h in other.frame_hashes) > 12
    assert len(plain.frame_hashes) == 3


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", video.VideoProblem.EMPTY),
        (b"\x00\x00\x00\x18ftypmp42" + bytes(4000), video.VideoProblem.NOT_A_VIDEO),
        (b"this is not a video at all" * 50, video.VideoProblem.NOT_A_VIDEO),
    ],
)
def test_bad_clips_are_refused(data: bytes, problem: video.VideoProblem, tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    source.write_bytes(data)
    with pytest.raises(video.VideoRejected) as info:
        video.process_video(source, tmp_path / "out", max_seconds=60)
    assert info.value.problem is problem
    assert not list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True


def test_cut_clip_is_refused(clips: dict[str, Path], tmp_path: Path) -> None:
    source = tmp_path / "cut.mov"
    source.write_bytes(clips["phone"].read_bytes()[: 2000])  # the moov (at the end) never arrived
    with pytest.raises(video.VideoRejected) as info:
        video.process_video(source, tmp_path, max_seconds=60)
    assert info.value.problem is video.VideoProblem.NOT_A_VIDEO


def test_too_long_clip_and_voice_refused(clips: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(video.VideoRejected) as info:
        video.process_video(clips["long"], tmp_path, max_seconds=5)
    assert info.value.problem is video.VideoProblem.TOO_LONG and info.value.params == {"limit": 5}
    with pytest.raises(video.VideoRejected) as info:
        video.process_audio(clips["voice"], tmp_path / "v.ogg", max_seconds=2)
    assert info.value.problem is video.VideoProblem.AUDIO_TOO_LONG


def test_voice_copy_is_opus_without_tags(clips: dict[str, Path], tmp_path: Path) -> None:
    assert all_tags(ffprobe_tags(clips["voice"]))["artist"] == "Wang Dapeng"  # the test is real
    processed = video.process_audio(clips["voice"], tmp_path / "v.ogg", max_seconds=60)
    assert processed.duration_s == pytest.approx(3.0, abs=0.1)
    probed = ffprobe_tags(tmp_path / "v.ogg")
    assert [s["codec_name"] for s in probed["streams"]] == ["opus"]
    assert not all_tags(probed), all_tags(probed)
    assert b"Wang" not in (tmp_path / "v.ogg").read_bytes()


def test_download_limit_is_telegrams_unless_a_local_server(tmp_path: Path) -> None:
    config = Config("1:a", TelegramSettings(-1), StorageSettings(tmp_path / "db", tmp_path / "media"))
    assert config.download_limit_bytes == 20 * 1024 * 1024
    local = config.with_settings(telegram={"local_mode": True})
    assert local.download_limit_bytes == 200 * 1024 * 1024
    assert local.with_settings(reports={"max_video_mb": 5000}).download_limit_bytes == 2000 * 1024 * 1024


# --- end to end over the fake Bot API --------------------------------------------------------


@pytest.fixture
def destinations(fake: FakeTelegram) -> tuple[Destination, ...]:
    fake.add_channel(RESEARCHERS, "Researchers")
    fake.add_channel(PUBLIC, "Heshun leopards (public)")
    return (
        Destination("researchers", RESEARCHERS, frozenset({"sighting"}), trusted=True),
        Destination("public", PUBLIC, frozenset({"sighting"}), trusted=False),
    )


@pytest.fixture
async def bot(running, destinations):
    return await running(destinations=destinations, languages={"staff": "en"})


async def send_clip(person: Person, path: Path, contains: str | None = None, **kwargs: Any) -> dict[str, Any]:
    return await person._reply_to(
        lambda: person.fake.send_video(person.id, path.read_bytes(), **kwargs), contains
    )


async def clip_and_place(person: Person, clip: Path, menu: str = "I saw a leopard",
                         place: tuple[float, float] = HESHUN) -> None:
    """From /start to "When did you see it?", with one clip and a shared location."""
    await person.send("/start")
    await person.tap(menu, contains="photos")
    await send_clip(person, clip, contains="Got 1")
    await person.tap("Done", contains="Where was it")
    await person.send_location(*place, contains="When did you see it")


async def send_voice(person: Person, path: Path, contains: str | None = None) -> dict[str, Any]:
    return await person._reply_to(lambda: person.fake.send_voice(person.id, path.read_bytes()), contains)


async def wait_for(fake: FakeTelegram, chat_id: int, key: str, count: int = 1) -> list[dict[str, Any]]:
    for _ in range(300):
        found = [m for m in fake.messages_in(chat_id) if key in m]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {key} message in {chat_id}: {fake.messages_in(chat_id)}")


def stored_file(fake: FakeTelegram, file_id: str, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(fake.download(file_id))
    return path


async def test_sighting_with_a_video_and_a_voice_answer(fake: FakeTelegram, bot, clips, tmp_path) -> None:
    """The phone's clip and a spoken answer to "What was it doing?": the card shows the clip's length
    and size and the voice answer; the staff group gets the stripped clip and the voice under the card."""
    person = Person(fake, 701, language="en")
    await person.send("/start")
    await person.tap("I saw a leopard", contains="photos or videos")
    await send_clip(person, clips["phone"], contains="Got 1 photo or video")
    await person.tap("Done", contains="Your video has a position")
    await person.send_location(*HESHUN, accuracy=20, contains="When did you see it")
    await person.tap("Just now", contains="How many")
    await person.tap("1")
    await person.tap("Not sure", contains="What was it doing")
    await send_voice(person, clips["voice"], contains="saved your voice message as the answer")
    assert "How far" in person.last_text() or "distance" in person.last_text().lower()
    await person.tap("Over 1 km", contains="Please check your report")
    review = person.last_text()
    assert "Videos: 1 (0:02)" in review and "Doing: 🎤 voice message, 0:03" in review
    receipt = await person.tap("Send report", contains="Reference code")
    code = CODE.search(receipt["text"]).group(0)

    card = await card_for(fake, code)
    assert "🎬 1 video (0:02 · 0.0 MB)" in card["text"]
    assert "Doing: 🎤 voice message, 0:03" in card["text"]
    assert "1 voice message, below the card" in card["text"]
    (clip,) = await wait_for(fake, STAFF_GROUP, "video")
    assert clip["video"]["duration"] == 2 and clip["video"]["width"] == 320
    # The preview is our middle key frame (Telegram keeps a sent thumbnail as a PhotoSize).
    assert clip["video"]["thumbnail"]["width"] == 320 and clip["video"]["thumbnail"]["height"] == 180
    assert_no_metadata(stored_file(fake, clip["video"]["file_id"], tmp_path, "staff.mp4"))
    (voice,) = await wait_for(fake, STAFF_GROUP, "voice")
    assert voice["reply_to_message"]["message_id"] == card["message_id"]  # under the card
    assert voice["voice"]["duration"] == 3 and code in voice["caption"]
    assert b"Wang" not in fake.download(voice["voice"]["file_id"])
    db = rows(bot.config.storage.database,
              "SELECT media_kind, duration_s, answer_key, original_path FROM photos ORDER BY position")
    assert [(r["media_kind"], r["answer_key"]) for r in db] == [("video", None), ("voice", "behaviour")]
    # The original is kept as evidence, untouched (its GPS included).
    assert Path(db[0]["original_path"]).read_bytes() == clips["phone"].read_bytes()


async def test_video_position_and_time_are_offered_never_applied(fake: FakeTelegram, bot, clips) -> None:
    person = Person(fake, 702, language="en")
    await person.send("/start")
    await person.tap("I saw a leopard", contains="photos")
    await person._reply_to(lambda: fake.send_document(
        person.id, clips["phone"].read_bytes(), file_name="VID_20261130.mov", mime_type="video/quicktime"
    ), contains="Got 1 photo or video")
    offer = await person.tap("Done", contains="Your video has a position")
    assert person.key("Use the video's place")
    # The person says where they really were instead.
    await person.send_location(*HESHUN, contains="When did you see it")
    assert person.key("When the video was made") is not None
    receipt = await person.finish_sighting()
    code = CODE.search(receipt["text"]).group(0)
    report = rows(bot.config.storage.database, "SELECT * FROM reports WHERE ref_code = ?", code)[0]
    assert (report["latitude"], report["longitude"]) == HESHUN
    assert report["location_source"] == "telegram"
    assert "37.35" in offer["text"] or "Your video has a position" in offer["text"]


async def test_clip_over_20_mb_gets_a_clear_answer(fake: FakeTelegram, bot, clips) -> None:
    person = Person(fake, 703, language="en")
    await person.send("/start")
    await person.tap("I saw a leopard", contains="photos")
    big = 21 * 1024 * 1024
    answer = await send_clip(person, clips["plain"], file_size=big, contains="over 20 MB")
    assert "send it compressed as a video, not as a file" in answer["text"]
    await person._reply_to(lambda: fake.send_document(
        person.id, clips["plain"].read_bytes(), file_name="big.mp4", mime_type="video/mp4", file_size=big
    ), contains="over 20 MB")
    assert not fake.calls_to("getFile")  # the size on the message was enough: no doomed download
    await person.tap("No photo", contains="Where was it")  # nothing was stored; the draft goes on


async def test_corrupt_and_empty_clips_are_refused_kindly(fake: FakeTelegram, bot, clips, tmp_path) -> None:
    person = Person(fake, 704, language="en")
    await person.send("/start")
    await person.tap("I saw a leopard", contains="photos")
    broken = clips["phone"].read_bytes()[:3000]
    await person._reply_to(lambda: fake.send_document(
        person.id, broken, file_name="broken.mov", mime_type="video/quicktime"
    ), contains="could not open this video")
    await send_clip(person, clips["plain"], contains="Got 1")
    # A zero-length clip: a container with a video track and not one frame.
    empty = tmp_path / "empty.mp4"
    with av.open(str(empty), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        out.start_encoding()  # the header and an empty track, no frame
    await send_clip(person, empty, contains="no picture")
    await person._reply_to(lambda: fake.send_document(
        person.id, b"", file_name="zero.mp4", mime_type="video/mp4"), contains="arrived empty")
    assert "Got 1" in [t for t in person.texts() if "Got" in t][-1]  # the good clip is still there
    assert not list((bot.config.storage.media_dir / "incoming").glob("*"))  # no download left behind


async def test_staff_group_and_public_channel_get_the_stripped_clip(
    fake: FakeTelegram, bot, clips, tmp_path
) -> None:
    person = Person(fake, 705, language="en")
    await clip_and_place(person, clips["phone"])
    code = CODE.search((await person.finish_sighting())["text"]).group(0)
    card = await card_for(fake, code)
    (staff_clip,) = await wait_for(fake, STAFF_GROUP, "video")
    assert_no_metadata(stored_file(fake, staff_clip["video"]["file_id"], tmp_path, "staff.mp4"))
    fresh = next(m for m in fake.messages_in(STAFF_GROUP) if m["message_id"] == card["message_id"])
    data = next(b["callback_data"] for row in fresh["reply_markup"]["inline_keyboard"] for b in row
                if "Verify" in b["text"])
    fake.press_button(STAFF_ADMIN, fresh, data, chat_id=STAFF_GROUP)
    (public_clip,) = await wait_for(fake, PUBLIC, "video")
    assert_no_metadata(stored_file(fake, public_clip["video"]["file_id"], tmp_path, "public.mp4"))
    # The trusted channel gets the clip itself, the original as evidence.
    (original,) = await wait_for(fake, RESEARCHERS, "document")
    assert fake.download(original["document"]["file_id"]) == clips["phone"].read_bytes()


async def test_two_people_forwarding_the_same_clip_make_one_incident(fake: FakeTelegram, bot, clips) -> None:
    first, second = Person(fake, 706, language="en"), Person(fake, 707, language="en")
    codes = []
    for person, clip, place in ((first, "plain", HESHUN), (second, "forwarded", (37.41, 113.71))):
        await clip_and_place(person, clips[clip], place=place)  # about 15 km apart
        codes.append(CODE.search((await person.finish_sighting())["text"]).group(0))
    reports = rows(bot.config.storage.database, "SELECT incident_id, match_reason FROM reports ORDER BY id")
    assert reports[0]["incident_id"] == reports[1]["incident_id"]
    # Matched on the key frames' hashes: the files differ (another size and bitrate).
    assert reports[1]["match_reason"] in ("photo_exact", "photo_similar")
    card = await card_for(fake, codes[1], contains="2 reports")
    assert "🎬 2 videos" in card["text"]
    # A different clip at the same second place does not join.
    third = Person(fake, 708, language="en")
    await clip_and_place(third, clips["other"], place=(37.41, 113.71))
    await third.finish_sighting()
    last = rows(bot.config.storage.database, "SELECT incident_id FROM reports ORDER BY id DESC LIMIT 1")[0]
    assert last["incident_id"] != reports[0]["incident_id"]


async def test_round_video_gif_and_voice_addition(fake: FakeTelegram, bot, clips) -> None:
    person = Person(fake, 709, language="en")
    await person.send("/start")
    await person.tap("I saw a leopard", contains="photos")
    await send_clip(person, clips["round"], kind="video_note", contains="Got 1")
    await send_clip(person, clips["gif"], kind="animation", file_name="leopard.gif.mp4", contains="Got 2")
    await person.tap("Done", contains="Where was it")
    # A voice note at the location step is an addition to the report; the question comes again.
    answer = await send_voice(person, clips["voice"], contains="added to the report")
    assert "Where was it" in answer["text"]
    await person.send_location(*HESHUN, contains="When did you see it")
    code = CODE.search((await person.finish_sighting())["text"]).group(0)
    card = await card_for(fake, code)
    assert "🎬 2 videos" in card["text"] and "1 voice message, below the card" in card["text"]
    (voice,) = await wait_for(fake, STAFF_GROUP, "voice")
    assert voice["reply_to_message"]["message_id"] == card["message_id"]


async def test_photos_and_videos_count_together(fake: FakeTelegram, running, clips, config) -> None:
    await running(reports={"max_photos": 2})
    person = Person(fake, 710, language="en")
    await person.send("/start")
    await person.tap("I saw a leopard", contains="photos")
    await send_clip(person, clips["plain"], contains="Got 1")
    await send_clip(person, clips["other"], contains="Got 2")
    await send_clip(person, clips["gif"], contains="That is enough photos (2)")


async def test_too_long_clip_is_refused_with_the_setting(fake: FakeTelegram, running, clips) -> None:
    await running(reports={"max_video_seconds": 5})
    person = Person(fake, 711, language="en")
    await person.send("/start")
    await person.tap("I saw a leopard", contains="photos")
    await send_clip(person, clips["long"], contains="longer than 5 seconds")


async def test_anonymous_tip_keeps_no_clip_with_metadata(fake: FakeTelegram, bot, clips) -> None:
    person = Person(fake, 712, language="en")
    await clip_and_place(person, clips["phone"], menu="Snares, poison")
    await person.tap("Just now")
    await person.tap("Snares")
    await send_voice(person, clips["voice"], contains="saved your voice message")
    await person.tap("Stay anonymous", contains="Please check")
    await person.tap("Send report", contains="Reference code")
    media = rows(bot.config.storage.database, "SELECT media_kind, sha256, original_path, derived_path"
                 " FROM photos")
    assert len(media) == 2 and all(r["original_path"] == r["derived_path"] for r in media)
    # Not even a hash that would recognise the tipster's own files.
    originals = {video.sha256_of(clips["phone"]), video.sha256_of(clips["voice"])}
    assert not originals & {r["sha256"] for r in media}
    assert not [p for p in bot.config.storage.media_dir.rglob("*") if any(h in p.name for h in originals)]
    kept = [p for p in bot.config.storage.media_dir.rglob("*") if p.is_file()]
    for path in kept:
        assert b"Xiaomi" not in path.read_bytes() and b"Wang" not in path.read_bytes(), path
    clip = next(Path(r["derived_path"]) for r in media if r["media_kind"] == "video")
    assert_no_metadata(clip)


async def test_fake_bot_api_video_methods_and_limits(fake: FakeTelegram, clips) -> None:
    """sendVideo/VideoNote/Animation/Voice/Audio: fields read from the file, Telegram's limits."""
    fake.add_user(720, "Li", language_code="en")
    fake.send_text(720, "/start")
    bot = telegram.Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
    async with bot:
        sent = await bot.send_video(720, clips["plain"].read_bytes(), caption="clip")
        assert (sent.video.width, sent.video.height, sent.video.duration.total_seconds()
                if hasattr(sent.video.duration, "total_seconds") else sent.video.duration) == (320, 180, 2)
        note = await bot.send_video_note(720, clips["round"].read_bytes())
        assert note.video_note is not None and note.video_note.length == 240
        gif = await bot.send_animation(720, clips["gif"].read_bytes(), filename="a.mp4")
        assert gif.animation is not None and gif.document is not None
        voice = await bot.send_voice(720, clips["voice"].read_bytes())
        assert voice.voice is not None
        assert int(getattr(voice.voice.duration, "seconds", voice.voice.duration)) == 3
        audio = await bot.send_audio(720, clips["voice"].read_bytes(), filename="note.ogg")
        assert audio.audio is not None
        with pytest.raises(telegram.error.TelegramError, match="(?i)too large"):
            await bot.send_video(720, bytes(50 * 1024 * 1024 + 1), filename="huge.mp4")
        big = fake.send_video(720, clips["plain"].read_bytes(), file_size=20 * 1024 * 1024 + 1)
        with pytest.raises(telegram.error.BadRequest, match="(?i)too big"):
            await bot.get_file(big["video"]["file_id"])


# --- the web tip line ------------------------------------------------------------------------


async def test_web_tip_line_takes_a_video_file(tmp_path: Path, config: Config, clips) -> None:
    """A clip uploaded on the web form: stored as a video (the original as evidence, a metadata-free
    copy to send on); a clip over [web] max_video_mb is refused with the limit in the answer."""
    web_config = replace(config, secret_key=SECRET)
    store = await Store.open(web_config.storage.database)
    settings = WebSettings(enabled=True, port=0, max_video_mb=(clips["phone"].stat().st_size + 10) / MB)
    client = TestClient(TestServer(make_web_app(Services(config=web_config, store=store), None, settings)))
    await client.start_server()
    try:
        async def post(clip: bytes) -> aiohttp.ClientResponse:
            async with client.get("/report/sighting?lang=en") as response:
                page = await response.text()
            data = aiohttp.FormData()
            data.add_field("csrf", hidden(page, "csrf"))
            data.add_field("draft_id", hidden(page, "draft_id"))
            for name, value in sighting().items():
                data.add_field(name, value)
            data.add_field("photo", clip, filename="VID_0001.mov", content_type="video/quicktime")
            response = await client.post("/report/sighting?lang=en", data=data, allow_redirects=False)
            await response.read()
            return response

        too_big = await post(clips["phone"].read_bytes() + bytes(100))
        assert too_big.status == 422 and "Each video can be at most" in await too_big.text()
        sent = await post(clips["phone"].read_bytes())
        assert sent.status == 303, await sent.text()
        (media,) = rows(web_config.storage.database, "SELECT * FROM photos")
        assert media["media_kind"] == "video"
        assert Path(media["original_path"]).read_bytes() == clips["phone"].read_bytes()  # evidence
        assert_no_metadata(Path(media["derived_path"]))
        assert media["duration_s"] == pytest.approx(2.0, abs=0.1)
    finally:
        await client.close()
        await store.close()


async def test_a_copy_over_the_upload_limit_stays_on_the_server(tmp_path: Path) -> None:
    """With a local Bot API server a clip may be bigger than the 50 MB a bot may upload: it is left
    out of what is sent (the card still shows its length and size) instead of failing for ever."""
    small, big = tmp_path / "small.mp4", tmp_path / "big.mp4"
    small.write_bytes(b"x")
    with big.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024 + 1)  # sparse: no 50 MB written
    assert await _uploadable([str(small), str(big)]) == [str(small)]


def test_voice_notes_are_not_pictures_and_follow_their_answer() -> None:
    """A livestock report needs a photo or a video: a voice note is not one. Changing a spoken answer
    drops the voice note that gave it; one sent as an addition stays."""
    draft = new_draft(Kind.LIVESTOCK, datetime(2026, 12, 6, tzinfo=UTC), "en")
    draft["photos"] = [{"media_kind": "voice", "answer_key": None}]
    assert photos_problem(draft) is not None
    draft["photos"].append({"media_kind": "video", "answer_key": None})
    assert photos_problem(draft) is None
    sighting = new_draft(Kind.SIGHTING, datetime(2026, 12, 6, tzinfo=UTC), "en")
    answer_with_voice(sighting, "behaviour", 3.04)
    sighting["photos"] = [{"media_kind": "voice", "answer_key": "behaviour"}, {"media_kind": "voice"}]
    assert sighting["answers"]["behaviour"] == {"voice": 3.0}
    with pytest.raises(AnswerError):
        answer_with_voice(sighting, "leopards", 3)  # a number is tapped or typed, not spoken
    reopen_field(sighting, "behaviour")
    assert "behaviour" not in sighting["answers"] and sighting["photos"] == [{"media_kind": "voice"}]
