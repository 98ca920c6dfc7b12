"""Write a small synthetic behaviour video (a bright blob moving over a textured arena) with PyAV.

Run:  python examples/make_sample_video.py OUT.mp4 [--frames 150] [--size 320x240] [--rate 30] [--gray]

The output is deterministic, H.264 (libx264, yuv420p), well under 1 MB for the defaults. With --gray x264 writes
4:0:0, which FFmpeg's H.264 decoder reports as yuv420p: read it with ``VideoDataChunkIterator(path, color=False)``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def arena(height: int, width: int) -> np.ndarray:
    """A static textured background: a soft vignette, floor tiles and fixed fine grain, uint8."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    vignette = 1 - 0.35 * (((yy - height / 2) / height) ** 2 + ((xx - width / 2) / width) ** 2) * 4
    tiles = 12 * (((yy // 20) + (xx // 20)) % 2)
    grain = np.random.default_rng(0).normal(0, 4, (height, width))
    return np.clip(70 * vignette + tiles + grain, 0, 255)


def frames(count: int, height: int, width: int, gray: bool) -> np.ndarray:
    """Yield ``count`` frames: (height, width) uint8 when ``gray``, else (height, width, 3) RGB."""
    background = arena(height, width)
    yy, xx = np.mgrid[0:height, 0:width]
    tint = np.array([1.0, 0.85, 0.6])
    for i in range(count):
        phase = 2 * np.pi * i / max(count, 1)
        y = height / 2 + 0.3 * height * np.sin(2 * phase)
        x = width / 2 + 0.35 * width * np.cos(phase)
        blob = 170 * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * (min(height, width) / 20) ** 2))
        image = np.clip(background + blob, 0, 255)
        yield image.astype(np.uint8) if gray else np.clip(image[..., None] * tint, 0, 255).astype(np.uint8)


def write_video(path: Path, count: int, width: int, height: int, rate: int, gray: bool) -> None:
    """Encode the synthetic frames to ``path`` with libx264."""
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = "gray" if gray else "yuv420p"
        stream.options = {"crf": "23", "preset": "medium"}
        for image in frames(count, height, width, gray):
            frame = av.VideoFrame.from_ndarray(image, format="gray" if gray else "rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(n) for n in text.lower().split("x"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--size: expected WIDTHxHEIGHT, e.g. 320x240; got {text!r}.") from err
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise argparse.ArgumentTypeError(f"--size: width and height must be even and at least 16 (yuv420p); "
                                         f"got {width}x{height}.")
    return width, height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="the video file to write, e.g. behavior.mp4")
    parser.add_argument("--frames", type=int, default=150, help="number of frames (default 150)")
    parser.add_argument("--size", type=parse_size, default=(320, 240), help="WIDTHxHEIGHT (default 320x240)")
    parser.add_argument("--rate", type=int, default=30, help="frames per second (default 30)")
    parser.add_argument("--gray", action="store_true", help="write a grayscale video")
    args = parser.parse_args(argv)
    if args.frames < 1:
        parser.error(f"--frames must be at least 1; got {args.frames}.")
    width, height = args.size
    write_video(args.output, args.frames, width, height, args.rate, args.gray)
    print(f"wrote {args.output}: {args.frames} frames {width}x{height} at {args.rate} fps, "
          f"{args.output.stat().st_size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
