"""Image, GrayscaleImage, RGBImage, RGBAImage, ImageReferences and Images (``core/nwb.base.yaml``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from nwbzarr_image.errors import ArgumentTypeError, NodeNotFoundError, SchemaError
from nwbzarr_image.model.core import Container, field
from nwbzarr_image.model.module import Collection
from nwbzarr_image.model.parse import parse_array, parse_float, parse_str


class BaseImage(Container):
    """What :class:`Image` (pixels stored in the file) and :class:`ExternalImage` (pixels in an image file)
    share, as pynwb's ``BaseImage``: a name and an optional description. Not created directly."""

    neurodata_type = "BaseImage"
    description = field()
    data: Any  # each subclass's field: Image's pixels, ExternalImage's file path or URL


class Image(BaseImage):
    """A single image: (x, y) grayscale, (x, y, 3) RGB or (x, y, 4) RGBA.

    Parameters
    ----------
    name : str
        Name of the image.
    data : array-like
        Pixel values.
    resolution : float, optional
        Pixels per centimeter.
    description : str, optional
        Description of the image.
    """

    neurodata_type = "Image"
    _shapes: ClassVar[tuple[tuple[int | None, ...], ...]] = ((None, None), (None, None, 3), (None, None, 4))
    _fix: ClassVar[str] = "An image is (x, y), (x, y, 3) for RGB or (x, y, 4) for RGBA; for frames use ImageSeries."
    data = field()
    resolution = field()

    def __init__(self, name: str, data: Any, resolution: float | None = None,
                 description: str | None = None) -> None:
        self._init_container(name)
        w = self.where
        self.data = parse_array(w, "data", data, shapes=self._shapes, allow_none=False, fix=self._fix)
        self.resolution = parse_float(w, "resolution", resolution)
        self.description = parse_str(w, "description", description)
        self._seal()


class GrayscaleImage(Image):
    """A grayscale image, shape (x, y). Parameters as in :class:`Image`."""

    neurodata_type = "GrayscaleImage"
    _shapes = ((None, None),)
    _fix = "A grayscale image is (x, y); use RGBImage for (x, y, 3) and RGBAImage for (x, y, 4)."


class RGBImage(Image):
    """A color image, shape (x, y, 3). Parameters as in :class:`Image`."""

    neurodata_type = "RGBImage"
    _shapes = ((None, None, 3),)
    _fix = "An RGB image is (x, y, 3); use GrayscaleImage for (x, y) and RGBAImage for (x, y, 4)."


class RGBAImage(Image):
    """A color image with transparency, shape (x, y, 4). Parameters as in :class:`Image`."""

    neurodata_type = "RGBAImage"
    _shapes = ((None, None, 4),)
    _fix = "An RGBA image is (x, y, 4); use GrayscaleImage for (x, y) and RGBImage for (x, y, 3)."


class ImageReferences(Container):
    """An ordered list of references to images (``Images.order_of_images``).

    Parameters
    ----------
    name : str
        Must be ``'order_of_images'`` when used in :class:`Images`.
    data : iterable of Image or ExternalImage
        The images, in order.
    """

    neurodata_type = "ImageReferences"

    def __init__(self, name: str, data: Iterable[BaseImage]) -> None:
        self._init_container(name)
        if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
            raise ArgumentTypeError(f"{self.where}: 'data' must be a list of images; got {type(data).__name__}.")
        self.data = list(data)
        for item in self.data:
            if not isinstance(item, BaseImage):
                raise ArgumentTypeError(f"{self.where}: images used in ImageReferences must be Image objects; got "
                                        f"{type(item).__name__} {item!r:.40}. Pass the Image (or ExternalImage) "
                                        "objects themselves.")
        self._seal()

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> BaseImage:
        return self.data[index]


class Images(Container):
    """A collection of images, optionally ordered by ``order_of_images``.

    Parameters
    ----------
    name : str
        Name of the collection.
    images : iterable of Image or ExternalImage, optional
        The images; names must be unique.
    description : str
        Description of the collection.
    order_of_images : ImageReferences or list of Image/ExternalImage, optional
        Order of the images (used by IndexSeries.indexed_images).
    """

    neurodata_type = "Images"
    description = field()
    _order = field()

    def __init__(self, name: str, images: Iterable[BaseImage] | None = None, description: str = "no description",
                 order_of_images: ImageReferences | list[BaseImage] | None = None) -> None:
        self._init_container(name)
        self.images: dict[str, BaseImage] = {}
        self.description = parse_str(self.where, "description", description, allow_none=False)
        if images is not None:
            if isinstance(images, (str, bytes, BaseImage)) or not isinstance(images, Iterable):
                raise ArgumentTypeError(f"{self.where}: 'images' must be a list of Image objects; got "
                                        f"{type(images).__name__}.")
            for image in images:
                self.add_image(image)
        if order_of_images is not None:
            if not isinstance(order_of_images, ImageReferences):
                order_of_images = ImageReferences("order_of_images", order_of_images)
            if order_of_images.name != "order_of_images":
                raise SchemaError(f"{self.where}: Field 'order_of_images' on Images must be named "
                                  f"'order_of_images'; got {order_of_images.name!r}. Create it with "
                                  "ImageReferences(name='order_of_images', data=[...]).")
            self._order = order_of_images
        self._seal()

    @property
    def order_of_images(self) -> ImageReferences | None:
        """The ordered references to images, or None."""
        order: ImageReferences | None = self._order
        return order

    def add_image[I: BaseImage](self, image: I) -> I:
        """Add an image; its name must be new in this collection."""
        if not isinstance(image, BaseImage):
            raise ArgumentTypeError(f"{self.where}: images must be Image objects (GrayscaleImage, RGBImage, "
                                    f"RGBAImage); got {type(image).__name__}. ExternalImage is accepted too.")
        if image.name in self.images:
            raise SchemaError(f"{self.where}: cannot add {image.where}: an image with that name already exists "
                              "in 'images'. Give each image a unique name.")
        self.images[image.name] = image
        image.parent = self
        return image

    def create_image(self, name: str, data: Any, resolution: float | None = None,
                     description: str | None = None) -> Image:
        """Create an :class:`Image` and add it."""
        return self.add_image(Image(name, data, resolution, description))

    def get_image(self, name: str | None = None) -> BaseImage:
        """The image called ``name``; without a name, the only image."""
        if name is None:
            only: Collection[BaseImage] = Collection(f"{self.where} images")
            only.update(self.images)
            return only.lookup("get_image", None)
        return self[name]

    def __getitem__(self, name: str) -> BaseImage:
        try:
            return self.images[name]
        except KeyError:
            raise NodeNotFoundError(f"{self.where}: no image named {name!r}; the images are "
                                    f"{sorted(self.images)}.") from None

    def __iter__(self) -> Iterator[BaseImage]:
        return iter(self.images.values())

    def __len__(self) -> int:
        return len(self.images)
