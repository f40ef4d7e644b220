"""Injection-based selection function (issue 16): completeness in (M500c, z) and the mass limit."""
