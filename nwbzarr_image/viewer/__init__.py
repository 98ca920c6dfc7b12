"""A local web viewer for the movies and images of one NWB Zarr file: ``nwbzarr-image view URL``.

The page fetches one frame at a time; the server reads only the chunks that frame touches.

>>> from nwbzarr_image.viewer import ViewerApp, ViewerServer
>>> server = ViewerServer(ViewerApp.open("session.nwb.zarr"))  # doctest: +SKIP
>>> server.serve_forever()  # doctest: +SKIP
"""

from nwbzarr_image.viewer.app import BlockCache, ViewerApp
from nwbzarr_image.viewer.server import ViewerHandler, ViewerServer

__all__ = ["BlockCache", "ViewerApp", "ViewerHandler", "ViewerServer"]
