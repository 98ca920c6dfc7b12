"""Data-chunk iterators (hdmf's names and meaning) and sources that never load a whole movie.

The sources import their readers (PyAV, tifffile) only when used.
"""

from nwbzarr_image.iterators.data_chunk import AbstractDataChunkIterator, DataChunk, DataChunkIterator
from nwbzarr_image.iterators.generic import GenericDataChunkIterator
from nwbzarr_image.iterators.npy import NpyDataChunkIterator, open_npy
from nwbzarr_image.iterators.tiff import TiffDataChunkIterator
from nwbzarr_image.iterators.video import VideoDataChunkIterator, VideoInfo, probe_video

__all__ = [
    "AbstractDataChunkIterator", "DataChunk", "DataChunkIterator", "GenericDataChunkIterator",
    "NpyDataChunkIterator", "TiffDataChunkIterator", "VideoDataChunkIterator", "VideoInfo", "open_npy",
    "probe_video",
]
