"""Master data: the city model (district › street › community › grid), departments and the catalogue."""
