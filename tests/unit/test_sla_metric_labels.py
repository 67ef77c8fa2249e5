"""sla labels its steps by department type and district, read from the city model's department codes."""

from cityloop.router.data.files import city_files
from cityloop.sla.metrics import dept_labels


def test_every_department_of_the_city_model_maps_to_its_district_and_a_small_set_of_types() -> None:
    departments = city_files().departments
    labels = {d.code: dept_labels(d.code) for d in departments}
    for d in departments:
        dept_type, district = labels[d.code]
        assert district == (d.district or "city"), d.code
        # Street offices (街道办) are "office"; every other department's type is the catalogue's.
        assert dept_type == d.type or (d.type == "street" and dept_type == "office"), d.code
    assert len({t for t, _ in labels.values()}) <= 30
    assert len({d for _, d in labels.values()}) <= 20


def test_codes_outside_the_model_are_other() -> None:
    assert dept_labels(None) == ("other", "other")
    assert dept_labels("T20261122-0000123") == ("other", "other")
    assert dept_labels("pd-sanitation") == ("sanitation", "pd")
    assert dept_labels("pd-s07-office") == ("office", "pd")
