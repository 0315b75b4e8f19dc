"""The PASCAL VOC colour map."""

from deeplab.palette import voc_colormap


def test_pascal_colormap_known_colours():
    colormap = voc_colormap()
    assert tuple(colormap[0]) == (0, 0, 0)
    assert tuple(colormap[1]) == (128, 0, 0)
    assert tuple(colormap[15]) == (192, 128, 128)  # person
