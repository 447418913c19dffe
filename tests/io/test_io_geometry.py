"""Windows, desqueeze and inference-size mapping, proved on an anamorphic overscan plate on disk."""

import cv2
import numpy as np
import pytest
from plate_files import write_exr

from rmpsam_model.preprocess import InferenceGeometry, InferenceSize
from rmpsam_plugin.images.geometry import PlateGeometry, Window, reframe
from rmpsam_plugin.images.reader import read_plate


def test_window_union_intersection_and_exr_notation():
    display, data = Window(0, 0, 100, 50), Window(-10, 40, 30, 30)
    assert display.union(data) == Window(-10, 0, 110, 70)
    assert display.intersection(data) == Window(0, 40, 20, 10)
    assert display.intersection(Window(200, 0, 5, 5)) is None
    assert str(display) == "(0, 0) - (99, 49)" and display.shape == (50, 100)


def test_reframe_crops_and_zero_fills():
    source = Window(-2, -1, 6, 4)
    pixels = np.arange(24, dtype=np.float32).reshape(4, 6)
    cropped = reframe(pixels, source, Window(0, 0, 4, 3))
    np.testing.assert_array_equal(cropped, pixels[1:4, 2:6])
    grown = reframe(pixels, source, Window(-3, -1, 8, 5))
    np.testing.assert_array_equal(grown[0:4, 1:7], pixels)
    assert grown[4].sum() == 0 and grown[:, 0].sum() == 0 and grown[:, 7].sum() == 0
    with pytest.raises(ValueError, match="does not cover window"):
        reframe(pixels, Window(0, 0, 5, 4), source)


@pytest.mark.parametrize("width, height, aspect", [(1920, 1080, 1.0), (2048, 858, 2.0), (1440, 1080, 1.33),
                                                   (4096, 1716, 2.0), (1000, 1000, 1.0)])
def test_network_size_follows_the_models_rule_so_the_predictor_does_not_resample(width, height, aspect):
    size = InferenceSize()
    geometry = PlateGeometry.for_plate(Window(0, 0, width, height), aspect, size)
    desqueezed = InferenceGeometry.for_image(height, round(width * aspect), size)
    assert geometry.network_hw == desqueezed.resized_hw
    assert InferenceGeometry.for_image(*geometry.network_hw, size).resized_hw == geometry.network_hw


def test_points_and_boxes_desqueeze_and_come_back():
    display, frame = Window(0, 0, 400, 200), Window(-20, -10, 440, 220)
    geometry = PlateGeometry.for_plate(display, 2.0, InferenceSize(short_side=110, max_long_side=440), frame)
    assert geometry.network_hw == (110, 440)  # 880x220 desqueezed, halved
    sx, sy = geometry.scale_xy
    assert (sx, sy) == pytest.approx((1.0, 0.5))
    points = np.array([[0.0, 0.0], [200.0, 100.0], [-20.0, -10.0]])
    np.testing.assert_allclose(geometry.points_to_network(points), [[20, 5], [220, 55], [0, 0]])
    np.testing.assert_allclose(geometry.points_to_display(geometry.points_to_network(points)), points)
    np.testing.assert_allclose(geometry.boxes_to_network([[10, 20, 30, 60]]), [[30, 15, 50, 35]])


def test_single_channel_images_keep_their_channel_axis():
    geometry = PlateGeometry.for_plate(Window(0, 0, 64, 32), 1.0, InferenceSize(short_side=16, max_long_side=32))
    assert geometry.image_to_network(np.zeros((32, 64, 1), np.float32)).shape == (16, 32, 1)
    assert geometry.image_to_network(np.zeros((32, 64, 3), np.float32)).shape == (16, 32, 3)
    assert geometry.matte_to_frame(np.zeros((16, 32), np.float32)).shape == (32, 64)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return np.logical_and(a, b).sum() / np.logical_or(a, b).sum()


@pytest.mark.parametrize("aspect", [2.0, 1.33])
def test_matte_drawn_on_an_anamorphic_overscan_plate_comes_back_in_place(tmp_path, aspect):
    """The proof of the whole mapping: draw in display-window pixels, go to the network and back.

    The plate is written to disk with overscan and read back through the reader, so the windows the
    geometry sees are the ones a job sees. The shape is a circle *as displayed* (an ellipse in stored
    pixels, narrower by the pixel aspect) plus a box reaching into the overscan.
    """
    display, data = Window(0, 0, 720, 405), Window(-48, -24, 816, 453)
    ys, xs = np.mgrid[data.y:data.y_end, data.x:data.x_end].astype(np.float32) + 0.5  # pixel centres
    centre_x, centre_y, radius = 430.0, 200.0, 120.0
    circle = ((xs - centre_x) * aspect) ** 2 + (ys - centre_y) ** 2 <= radius**2
    box = (xs >= -40) & (xs < 90) & (ys >= 300) & (ys < 420)  # crosses the left and bottom display edges
    drawn = (circle | box).astype(np.float32)
    path = write_exr(tmp_path / "ana.1001.exr", np.repeat(drawn[..., None], 4, axis=2),
                     data_window=data, display_window=display, pixel_aspect=aspect)

    plate = read_plate(path, overscan=True)
    assert plate.window == data and plate.pixel_aspect == pytest.approx(aspect)
    size = InferenceSize(short_side=288, max_long_side=768)
    geometry = PlateGeometry.for_plate(plate.display_window, plate.pixel_aspect, size, frame_window=plate.window)
    network = geometry.image_to_network(plate.pixels[..., :1])[..., 0]
    assert network.shape == geometry.network_hw

    # In network pixels the circle is round again and sits where the point mapping says.
    circle_only = geometry.image_to_network(reframe(circle.astype(np.float32), data, plate.window))
    moments = cv2.moments((circle_only > 0.5).astype(np.uint8), binaryImage=True)
    centroid = np.array([moments["m10"], moments["m01"]]) / moments["m00"] + 0.5  # index -> pixel-centre coords
    np.testing.assert_allclose(centroid, geometry.points_to_network([[centre_x, centre_y]])[0], atol=0.5)
    assert moments["mu20"] / moments["mu02"] == pytest.approx(1.0, abs=0.03)

    # And back: squeezed into the display window, and into the overscan data window.
    in_display = geometry.matte_to_window(network, display) > 0.5
    assert _iou(in_display, reframe(drawn, data, display) > 0.5) > 0.98
    in_overscan = geometry.matte_to_window(network, data) > 0.5
    assert _iou(in_overscan, drawn > 0.5) > 0.98
    assert in_overscan[data.height - 40:data.height - 34, 12:20].all()  # the box's overscan part (x -36..-28) survives
