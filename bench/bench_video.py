"""Video pipeline vs the ffmpeg command line: ``python bench/bench_video.py [--quick]``.

A 30 s 1080p phone clip (H.264 at a phone's bitrate, one key frame a second, AAC sound, a GPS
position as QuickTime ``©xyz``, a creation time, make and model) is made once with PyAV. Then, each
in a fresh process so the peak RSS is its own:

* ours — :func:`bot.video.process_video`: check, what the clip knows (position, time), three key
  frames by accurate seek, their perceptual hashes and the thumbnail, SHA-256 of the original, and
  the metadata-free remux (SEI units filtered out);
* ffmpeg — the CLI doing the same work: ``ffmpeg -i clip -map 0:v -map 0:a -map_metadata -1
  -fflags +bitexact -c copy out.mp4`` and one ``ffmpeg`` extracting the same three frames (accurate
  seek, scaled to 480 px) as JPEG.

Figures: wall time (median of the runs, both sides interleaved), ratio ours / ffmpeg (target
≤ 1.5×), peak RSS of ours (target < 200 MB) and of ffmpeg. The stripped copy is checked with
ffprobe to carry no tag besides the structural ones. Needs Debian's ``ffmpeg`` for the other side.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import video  # noqa: E402

PHONE_TAGS = {
    "location": "+37.3501+113.6102+1050.000/",
    "creation_time": "2026-11-30T01:02:03.000000Z",
    "make": "Xiaomi",
    "model": "Redmi Note 12",
}
FRACTIONS = video.FRAME_FRACTIONS


def make_phone_clip(path: Path, seconds: int, size: tuple[int, int] = (1920, 1080), rate: int = 30) -> None:
    """A clip like a phone's: moving detail (so the bitrate is real), 1 s GOP, ~16 Mbit/s, AAC."""
    out = av.open(str(path), "w", format="mov")
    for key, value in PHONE_TAGS.items():
        out.metadata[key] = value
    stream = out.add_stream("libx264", rate=rate, options={"preset": "ultrafast", "g": str(rate),
                                                           "keyint_min": str(rate)})
    stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
    stream.bit_rate = 16_000_000
    sound = out.add_stream("aac", rate=48000)
    sound.bit_rate = 128_000
    rng = np.random.default_rng(1)
    width, height = size
    texture = rng.integers(0, 255, (height // 8, width // 8 + 64, 3), dtype=np.uint8)
    texture = np.repeat(np.repeat(texture, 8, axis=0), 8, axis=1)
    noise = rng.integers(0, 24, (height, width, 3), dtype=np.uint8)
    for i in range(seconds * rate):
        shift = (i * 6) % 512
        picture = texture[:height, shift:shift + width] // 2 + np.roll(noise, i * 37, axis=1) + 40
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))
    samples = 1024
    for start in range(0, seconds * 48000, samples):
        t = (np.arange(samples) + start) / 48000
        tone = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[None, :]
        chunk = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        chunk.sample_rate = 48000
        out.mux(sound.encode(chunk))
    out.mux(sound.encode(None))
    out.close()


# Each side runs in a fresh interpreter that reports its own peak RSS (VmHWM) and wall time.
# os.wait4 gives the ffmpeg children's own ru_maxrss (this small wrapper forks them).
OURS = """
import sys, time, json
sys.path.insert(0, {root!r})
from pathlib import Path
from bot import video
def hwm():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
base = hwm()
t0 = time.perf_counter()
result = video.process_video(Path({clip!r}), Path({out!r}), max_seconds=600)
took = time.perf_counter() - t0
print(json.dumps({{"seconds": took, "peak_mb": hwm() / 1024, "base_mb": base / 1024,
                  "stripped": str(result.stripped_path), "lat": result.facts.latitude}}))
"""

FFMPEG = """
import os, sys, time, json, subprocess
commands = json.loads(sys.argv[1])
peak = 0
t0 = time.perf_counter()
for command in commands:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    assert status == 0, command
    peak = max(peak, usage.ru_maxrss)
print(json.dumps({"seconds": time.perf_counter() - t0, "peak_mb": peak / 1024}))
"""


def ffmpeg_commands(clip: Path, out: Path, duration: float) -> list[list[str]]:
    remux = ["ffmpeg", "-v", "error", "-y", "-i", str(clip), "-map", "0:v", "-map", "0:a",
             "-map_metadata", "-1", "-fflags", "+bitexact", "-c", "copy", str(out / "stripped.mp4")]
    frames = ["ffmpeg", "-v", "error", "-y"]
    for fraction in FRACTIONS:
        frames += ["-ss", f"{duration * fraction:.3f}", "-i", str(clip)]
    for i, _ in enumerate(FRACTIONS):
        frames += ["-map", f"{i}:v", "-frames:v", "1", "-vf", "scale=480:-2", str(out / f"frame{i}.jpg")]
    return [remux, frames]


def run_ours(clip: Path, out: Path) -> dict[str, float]:
    shutil.rmtree(out, ignore_errors=True)
    code = OURS.format(root=str(ROOT), clip=str(clip), out=str(out))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_ffmpeg(clip: Path, out: Path, duration: float) -> dict[str, float]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    commands = json.dumps(ffmpeg_commands(clip, out, duration))
    command = [sys.executable, "-c", FFMPEG, commands]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def leftover_tags(path: Path) -> dict[str, str]:
    probed = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format_tags:stream_tags", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout)
    tags = dict(probed.get("format", {}).get("tags", {}))
    for stream in probed.get("streams", []):
        tags.update(stream.get("tags", {}))
    structural = {
        "major_brand", "minor_version", "compatible_brands", "handler_name", "vendor_id", "language"
    }
    return {k: v for k, v in tags.items() if k not in structural}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s instead of 30 s, 3 runs")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        sys.exit("bench_video: needs Debian's ffmpeg for the other side (apt-get install ffmpeg)")
    seconds = 10 if args.quick else 30
    runs = 3 if args.quick else args.runs
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clip = folder / "phone.mov"
        t0 = time.perf_counter()
        make_phone_clip(clip, seconds)
        size_mb = clip.stat().st_size / 2**20
        print(f"clip: {seconds} s 1920x1080 30 fps H.264 + AAC, {size_mb:.1f} MB, GPS as ©xyz "
              f"(made in {time.perf_counter() - t0:.1f} s)")
        with av.open(str(clip)) as container:
            duration = container.duration / av.time_base
        ours_runs, ffmpeg_runs = [], []
        for _ in range(runs):  # interleaved: both sides see the same machine load
            ours_runs.append(run_ours(clip, folder / "ours"))
            ffmpeg_runs.append(run_ffmpeg(clip, folder / "ffmpeg", duration))
        ours_s = statistics.median(r["seconds"] for r in ours_runs)
        ffmpeg_s = statistics.median(r["seconds"] for r in ffmpeg_runs)
        ours_mb = max(r["peak_mb"] for r in ours_runs)
        base_mb = max(r["base_mb"] for r in ours_runs)
        ffmpeg_mb = max(r["peak_mb"] for r in ffmpeg_runs)
        left = leftover_tags(Path(ours_runs[-1]["stripped"]))
        assert ours_runs[-1]["lat"] is not None, "the clip's position was not read"
    ratio = ours_s / ffmpeg_s
    print(f"ours   (process_video: facts, 3 frames + hashes + thumbnail, SHA-256, stripped remux): "
          f"{ours_s * 1000:8.0f} ms, peak RSS {ours_mb:.0f} MB ({base_mb:.0f} MB before processing)")
    print(f"ffmpeg (CLI: -map_metadata -1 -c copy remux + 3 frames by accurate seek):           "
          f"{ffmpeg_s * 1000:8.0f} ms, peak RSS {ffmpeg_mb:.0f} MB")
    print(f"median of {runs} interleaved runs; ratio ours/ffmpeg {ratio:.2f}x")
    print(f"tags left in the stripped copy (ffprobe, besides structural ones): {left or 'none'}")
    verdict = [
        ("time vs ffmpeg CLI", f"{ratio:.2f}x", "<= 1.5x", ratio <= 1.5),
        ("peak RSS, ours", f"{ours_mb:.0f} MB", "< 200 MB", ours_mb < 200),
        ("metadata left in the copy", str(len(left)), "0", not left),
    ]
    print()
    print(f"{'figure':28} {'value':>10}  {'target':10} result")
    for name, value, target, ok in verdict:
        print(f"{name:28} {value:>10}  {target:10} {'PASS' if ok else 'MISS'}")
    print("RESULT " + json.dumps({
        "seconds": seconds, "clip_mb": size_mb, "runs": runs, "ours_ms": ours_s * 1000,
        "ffmpeg_ms": ffmpeg_s * 1000, "ratio": ratio, "ours_peak_mb": ours_mb, "ours_base_mb": base_mb,
        "ffmpeg_peak_mb": ffmpeg_mb, "tags_left": left,
    }))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
