"""Private leaf helpers every other part of embkit may use.

``models`` resolves and loads pretrained models (offline, one copy per process),
``quantize`` makes int8 copies of a model (torchao), ``device`` picks and checks torch
devices, ``validation`` checks parameters and text input, ``seeding`` turns
``random_state`` into a local generator and draws seeds from it.
Modules here import nothing else from embkit.
"""
