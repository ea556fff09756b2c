"""Private leaf helpers every other part of embkit may use; they import nothing from embkit.

``models`` (offline loading, one copy per process), ``quantize`` (int8), ``device``,
``validation`` (parameter ranges, text input), ``seeding`` (``random_state`` -> seeds).
"""
