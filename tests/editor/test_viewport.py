"""The screen <-> plate mapping itself, as numbers."""

import pytest

from rmpsam_plugin.editor.viewport import ViewTransform


@pytest.mark.parametrize("view", [ViewTransform(1, 0, 0, 1), ViewTransform(2.5, -37.25, 12.5, 1),
                                  ViewTransform(0.3, 100, 50, 2.0), ViewTransform(3, 7, -5, 1.33)])
def test_to_plate_inverts_to_screen(view):
    for x, y in [(0, 0), (0.5, 0.5), (123.25, 77.75), (-8, 400)]:
        assert view.to_plate(*view.to_screen(x, y)) == pytest.approx((x, y), abs=1e-9)


def test_anamorphic_pixels_are_wider_on_screen():
    view = ViewTransform(zoom=3, pan_x=10, pan_y=20, pixel_aspect=2.0)
    assert view.to_screen(1, 1) == (16.0, 23.0)
    assert view.pixel_to_plate(16, 23) == pytest.approx((1 + 0.5 / 6, 1 + 0.5 / 3))


def test_zoom_keeps_the_point_under_the_cursor():
    view = ViewTransform(1.0, 13, 29, 2.0)
    before = view.to_plate(200.5, 150.5)
    for factor in (1.25, 1.25, 0.5, 8):
        view = view.zoomed_about(factor, 200.5, 150.5)
        assert view.to_plate(200.5, 150.5) == pytest.approx(before, abs=1e-9)
    assert view.zoom == pytest.approx(1.25 * 1.25 * 0.5 * 8)


def test_fit_and_one_to_one_centre_the_desqueezed_plate():
    fit = ViewTransform.fit(2048, 858, 2.0, 1016, 616, margin=8)
    assert fit.zoom == pytest.approx(1000 / 4096)
    assert fit.to_screen(0, 0)[0] == pytest.approx(8) and fit.to_screen(2048, 0)[0] == pytest.approx(1008)
    one = ViewTransform.one_to_one(100, 50, 1.0, 301, 201)
    assert one.zoom == 1 and (one.pan_x, one.pan_y) == (100.0, 76.0)  # whole pixels
