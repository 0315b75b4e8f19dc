"""Reading photos and label masks from disk as numpy arrays (OpenCV), with errors that say what
was expected.

The one place that turns real-world photo files into uint8 RGB: EXIF orientation, grayscale,
alpha (kept separately), 16 bits per channel and CMYK JPEGs all end up the same shape. Used where
files are read outside a ``tf.data`` graph: export check and calibration images, the TFDS folder
builder, mask-encoding detection and portrait mode. (``tf.data`` pipelines decode with
``tf.io``.) NumPy, OpenCV and Pillow only: the TensorFlow-free portrait path reads through it.

Every decode is held to a pixel budget (:func:`decode_pixels`): the size is read from the header
of the format the decoder will actually use (Pillow's reader where it is that format, this
module's own for Radiance, PFM, PAM and PNM), refused before decoding when over the budget or
unknown, and the decoded size is checked again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The one list of image file suffixes. Photo formats read here (portrait mode, export check and
#: calibration images): by OpenCV, or by Pillow where this OpenCV lacks the decoder (GIF before
#: OpenCV 4.11). A folder is scanned for exactly these; a file named on the command line is
#: decoded whatever its suffix ...
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif")
#: ... those ``tf.io.decode_image`` decodes too (training data sets: no WebP, no TIFF) ...
TF_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
#: ... and the JPEG ones (a JPEG photo is written back as JPEG).
JPEG_SUFFIXES = (".jpg", ".jpeg")
EXIF_ORIENTATION_TAG = 0x0112


class UnreadableImageError(ValueError):
    """A file that is missing, empty, truncated or not an image this program can decode."""


class ImageTooLargeError(UnreadableImageError):
    """A valid image with more pixels than the caller's budget."""


#: The default pixel budget of every decoded image (a 100-MP photo decodes to 300 MB of RGB).
MAX_PIXELS = 100_000_000
#: What an unreadable file was expected to be.
EXPECTED_FORMATS = "expected a JPEG, PNG, BMP, TIFF, WebP or GIF file"
#: Bytes read to find the size in a header this module parses itself (Radiance, PFM, PAM, PNM).
_HEADER_BYTES = 1 << 16
#: The formats OpenCV decodes, by the signature its decoders check (first match wins), and the
#: Pillow format names whose header is the same format's; None: the header is parsed here.
_SIGNATURES: tuple[tuple[bytes, str, tuple[str, ...] | None], ...] = (
    (b"\xff\xd8\xff", "JPEG", ("JPEG", "MPO")),
    (b"\x89PNG\r\n\x1a\n", "PNG", ("PNG",)),
    (b"BM", "BMP", ("BMP", "DIB")),
    (b"II*\x00", "TIFF", ("TIFF",)),
    (b"MM\x00*", "TIFF", ("TIFF",)),
    (b"II+\x00", "TIFF", ("TIFF",)),
    (b"MM\x00+", "TIFF", ("TIFF",)),
    (b"GIF87a", "GIF", ("GIF",)),
    (b"GIF89a", "GIF", ("GIF",)),
    (b"\x59\xa6\x6a\x95", "Sun raster", ("SUN",)),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000", ("JPEG2000",)),
    (b"\xff\x4f\xff\x51", "JPEG 2000", ("JPEG2000",)),
    (b"#?RADIANCE", "Radiance HDR", None),
    (b"#?RGBE", "Radiance HDR", None),
    (b"PF", "PFM", None),
    (b"Pf", "PFM", None),
    (b"P7", "PAM", None),
    *((f"P{n}".encode(), "PNM", None) for n in range(1, 7)),
)


def _sniff(head: bytes) -> tuple[str, tuple[str, ...] | None] | None:
    """(format, Pillow names of it) that OpenCV would decode ``head`` as; None if none."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP", ("WEBP",)
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return "AVIF", ("AVIF",)
    for signature, name, pillow in _SIGNATURES:
        if head.startswith(signature):
            return name, pillow
    return None


def _tokens(text: bytes, count: int, after: int) -> list[bytes] | None:
    """The first ``count`` whitespace-separated tokens of a PNM/PFM header after byte ``after``
    (``#`` comments skipped); None when the header is cut short."""
    found: list[bytes] = []
    for line in text[after:].splitlines():
        found += line.split(b"#", 1)[0].split()
        if len(found) >= count:
            return found[:count]
    return None


def _own_header_size(head: bytes, kind: str) -> tuple[int, int] | None:
    """(width, height) from the headers Pillow does not read: Radiance, PFM, PAM, PNM."""
    try:
        if kind == "Radiance HDR":  # text lines, a blank line, then e.g. "-Y 480 +X 640"
            _, _, rest = head.partition(b"\n\n")
            words = rest.split(b"\n", 1)[0].split()
            if len(words) != 4 or words[0][1:] not in (b"X", b"Y"):
                return None
            first, second = int(words[1]), int(words[3])
            return (second, first) if words[0][1:] == b"Y" else (first, second)
        if kind == "PAM":
            fields = {}
            for line in head[2:].splitlines():
                words = line.split(b"#", 1)[0].split()
                if words[:1] == [b"ENDHDR"]:
                    break
                if len(words) >= 2:
                    fields[words[0]] = words[1]
            return int(fields[b"WIDTH"]), int(fields[b"HEIGHT"])
        words = _tokens(head, 2, 2)  # PNM and PFM: magic, width, height
        return None if words is None else (int(words[0]), int(words[1]))
    except (KeyError, ValueError):
        return None


def image_size(source: str | os.PathLike | bytes | np.ndarray) -> tuple[int, int] | None:
    """(width, height) the decoder will produce, read from the header of a file or of encoded
    bytes without decoding the pixels; None when the format is not one OpenCV decodes or its
    header cannot be read. The header is trusted only when it is the format the decoder will
    use: a file that Pillow reads as one format and OpenCV would decode as another (a Radiance
    picture named ``.png``) is measured by the decoder's own format."""
    import io

    if isinstance(source, (bytes, bytearray, np.ndarray)):
        data = source.tobytes() if isinstance(source, np.ndarray) else bytes(source)
        head, opener = data[:_HEADER_BYTES], (lambda: io.BytesIO(data))
    else:
        try:
            with open(source, "rb") as handle:
                head = handle.read(_HEADER_BYTES)
        except OSError:
            return None
        opener = lambda: source  # noqa: E731 - Pillow reads only as much as the header needs
    sniffed = _sniff(head)
    if sniffed is None:
        return None
    kind, pillow_names = sniffed
    if pillow_names is None:
        return _own_header_size(head, kind)
    try:
        from PIL import Image

        limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # no bomb check: we
        try:                                                          # only read the size
            with Image.open(opener()) as image:
                if image.format not in pillow_names:
                    return None
                return int(image.width), int(image.height)
        finally:
            Image.MAX_IMAGE_PIXELS = limit
    except Exception:  # a damaged header: the decoder would not trust it either
        return None


def header_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) from the file header without decoding the pixels; None if unknown."""
    return image_size(path)


def _too_large(name: str, width: int, height: int, max_pixels: int) -> ImageTooLargeError:
    return ImageTooLargeError(
        f"{name}: {width}x{height} is {width * height / 1e6:.0f} megapixels, over the limit of "
        f"{max_pixels / 1e6:g}")


def check_pixel_budget(source: str | os.PathLike | bytes | np.ndarray, max_pixels: int | None,
                       name: str | None = None) -> None:
    """Refuse, before decoding, an image that would decode to more than ``max_pixels`` pixels,
    or whose size cannot be read from a header the decoder will trust (nothing is decoded
    unmeasured)."""
    if max_pixels is None:
        return
    name = name or str(source)
    size = image_size(source)
    if size is None:
        raise UnreadableImageError(f"cannot read image {name}: {EXPECTED_FORMATS} (corrupt or "
                                   "unsupported format)")
    if size[0] * size[1] > max_pixels:
        raise _too_large(name, size[0], size[1], max_pixels)


def decode_pixels(data: bytes | np.ndarray, name: str = "<bytes>",
                  max_pixels: int | None = MAX_PIXELS) -> np.ndarray:
    """``cv2.imdecode`` (channels and depth unchanged) within a pixel budget: the header is
    measured first, and the decoded size checked again (the one check every decoded image,
    matte, background and mask passes). A format this OpenCV has no decoder for (GIF before
    4.11) is decoded by Pillow (:func:`_decode_with_pillow`), within the same budget. Raises
    ``UnreadableImageError`` naming ``name``."""
    import cv2

    buffer = np.frombuffer(data, np.uint8) if isinstance(data, (bytes, bytearray)) else data
    if buffer.size == 0:
        raise UnreadableImageError(f"cannot read image {name}: the file is empty")
    check_pixel_budget(buffer, max_pixels, name)
    decoded = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.size == 0:  # measured above: Pillow decodes that same format
        decoded = _decode_with_pillow(buffer)
    if decoded is None or decoded.size == 0:
        raise UnreadableImageError(f"cannot read image {name}: {EXPECTED_FORMATS} (corrupt or "
                                   "unsupported format)")
    if max_pixels is not None and decoded.shape[0] * decoded.shape[1] > max_pixels:
        raise _too_large(name, decoded.shape[1], decoded.shape[0], max_pixels)
    return decoded


@dataclass
class Photo:
    """An upright uint8 RGB image, its alpha channel if it had one, and where it came from."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    path: Path | None = None
    orientation: int = 1

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])


def exif_orientation(path: str | os.PathLike) -> int:
    """The EXIF orientation tag (1..8) of an image file, 1 when absent or unreadable.

    Pillow only parses the header here; the pixels are decoded by OpenCV.
    """
    try:
        from PIL import Image

        with Image.open(path) as image:
            value = int(image.getexif().get(EXIF_ORIENTATION_TAG, 1))
    except Exception:  # no EXIF, or a format Pillow does not know: treat as upright
        return 1
    return value if 1 <= value <= 8 else 1


def orient_upright(image: np.ndarray, orientation: int) -> np.ndarray:
    """Rotate/flip an image stored with EXIF ``orientation`` so that it displays upright."""
    import cv2

    if orientation == 2:
        return cv2.flip(image, 1)
    if orientation == 3:
        return cv2.rotate(image, cv2.ROTATE_180)
    if orientation == 4:
        return cv2.flip(image, 0)
    if orientation == 5:
        return cv2.flip(cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE), 1)
    if orientation == 6:
        return cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.flip(cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE), 1)
    if orientation == 8:
        return cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return image


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Scale 16-bit or float images to uint8 (rounding), leave uint8 untouched."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    raise UnreadableImageError(f"unsupported pixel type {image.dtype}")


def decode_image(data: bytes | np.ndarray, orientation: int = 1, name: str = "<bytes>",
                 max_pixels: int | None = MAX_PIXELS) -> Photo:
    """Decode encoded image bytes into an upright ``Photo`` (RGB uint8 + optional alpha), within
    the pixel budget ``max_pixels`` (see :func:`decode_pixels`)."""
    import cv2

    decoded = to_uint8(decode_pixels(data, name, max_pixels))
    alpha = None
    if decoded.ndim == 2:
        rgb = cv2.cvtColor(decoded, cv2.COLOR_GRAY2RGB)
    elif decoded.shape[2] == 1:
        rgb = cv2.cvtColor(decoded[:, :, 0], cv2.COLOR_GRAY2RGB)
    elif decoded.shape[2] == 2:  # gray + alpha
        rgb = cv2.cvtColor(decoded[:, :, 0], cv2.COLOR_GRAY2RGB)
        alpha = np.ascontiguousarray(decoded[:, :, 1])
    elif decoded.shape[2] == 3:
        rgb = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
    elif decoded.shape[2] == 4:
        rgb = cv2.cvtColor(decoded, cv2.COLOR_BGRA2RGB)
        alpha = np.ascontiguousarray(decoded[:, :, 3])
    else:
        raise UnreadableImageError(f"cannot read image {name}: unsupported channel count "
                                   f"{decoded.shape[2]}")
    if orientation != 1:
        rgb = orient_upright(rgb, orientation)
        alpha = None if alpha is None else orient_upright(alpha, orientation)
    if alpha is not None and alpha.min() == 255:
        alpha = None  # fully opaque: no information, keep the fast RGB path
    return Photo(rgb=np.ascontiguousarray(rgb), alpha=alpha, orientation=orientation)


def _decode_with_pillow(buffer: np.ndarray) -> np.ndarray | None:
    """Pillow's decoding (first frame) as OpenCV would give it (BGR/BGRA/gray); None if it
    cannot: formats this OpenCV build has no decoder for (GIF before 4.11)."""
    import io

    try:
        from PIL import Image

        with Image.open(io.BytesIO(buffer.tobytes())) as image:
            has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            if image.mode in ("L", "I;16") and not has_alpha:
                return np.asarray(image)
            rgb = np.asarray(image.convert("RGBA" if has_alpha else "RGB"))
    except Exception:  # not an image Pillow knows either: the caller says what was expected
        return None
    return rgb[..., [2, 1, 0, 3]] if has_alpha else rgb[..., ::-1]


def read_photo(path: str | os.PathLike, *, apply_orientation: bool = True,
               max_pixels: int | None = MAX_PIXELS) -> Photo:
    """Read an image file as uint8 RGB (upright by its EXIF tag unless told not to); alpha kept
    separately.

    Grayscale becomes RGB, 16-bit becomes 8-bit, CMYK JPEGs are converted by the decoder.
    ``apply_orientation=False`` keeps the stored pixel grid, ignoring the EXIF orientation tag,
    as ``tf.io.decode_image`` does and as label masks (which carry no orientation) are drawn.
    Raises ``UnreadableImageError`` (a ``ValueError``) naming the file when it cannot be read;
    ``ImageTooLargeError`` when it would decode to more than ``max_pixels`` (None: no budget).
    """
    path = Path(path)
    try:
        data = np.fromfile(str(path), np.uint8)
    except OSError as error:
        raise UnreadableImageError(
            f"cannot read image {path}: {error.strerror or error}") from error
    orientation = exif_orientation(path) if apply_orientation else 1
    photo = decode_image(data, orientation, name=str(path), max_pixels=max_pixels)
    photo.path = path
    return photo


def read_rgb(path: str | os.PathLike, *, apply_orientation: bool = True,
             max_pixels: int | None = MAX_PIXELS) -> np.ndarray:
    """A photo as uint8 RGB ``[H, W, 3]`` (grey expanded, alpha dropped); see :func:`read_photo`."""
    return read_photo(path, apply_orientation=apply_orientation, max_pixels=max_pixels).rgb


def read_mask(path: str | os.PathLike, max_pixels: int | None = MAX_PIXELS) -> np.ndarray:
    """A label mask as a 2-D uint8 array of class ids (no colour conversion, no orientation)."""
    data = np.fromfile(str(path), np.uint8)
    try:
        mask = decode_pixels(data, str(path), max_pixels)
    except ImageTooLargeError:
        raise
    except UnreadableImageError:
        mask = None
    if mask is None:
        raise ValueError(f"cannot read mask {path}: expected a single-channel PNG of class ids")
    if mask.ndim == 3:
        raise ValueError(
            f"mask {path} has {mask.shape[2]} channels: masks must be single-channel PNGs of "
            "class ids (palette PNGs: convert to grey-level ids first)")
    if mask.dtype != np.uint8:
        raise ValueError(f"mask {path} is {mask.dtype}: class-id masks must be 8-bit (ids 0-254, "
                         "255 = ignore)")
    return mask
