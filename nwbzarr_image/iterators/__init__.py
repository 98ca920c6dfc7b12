"""Data-chunk iterators (hdmf's names and meaning) and sources that never load a whole movie."""

from nwbzarr_image.iterators.data_chunk import AbstractDataChunkIterator, DataChunk, DataChunkIterator
from nwbzarr_image.iterators.generic import GenericDataChunkIterator

__all__ = ["AbstractDataChunkIterator", "DataChunk", "DataChunkIterator", "GenericDataChunkIterator"]
