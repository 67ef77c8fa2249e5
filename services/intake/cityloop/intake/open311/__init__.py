"""Open311 GeoReport v2 at /open311/v2, so existing civic apps can submit and follow requests."""
