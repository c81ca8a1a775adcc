"""The REST API at /api/v1/ for provincial e-government platforms: an interface onto the certification
services and selectors, with no business rule of its own."""
