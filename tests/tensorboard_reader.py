"""Read scalars back from a TensorBoard event file, with only tensorboardX's protobufs (for the tests)."""

from __future__ import annotations

import struct
from pathlib import Path


def scalars(directory: Path) -> dict[str, dict[int, float]]:
    """`{tag: {step: value}}` from every events file in `directory`."""
    from tensorboardX.proto import event_pb2

    out: dict[str, dict[int, float]] = {}
    for path in sorted(Path(directory).glob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset:offset + 8])
            record = data[offset + 12: offset + 12 + length]  # after the length and its CRC
            offset += 12 + length + 4  # and the record's CRC
            event = event_pb2.Event.FromString(record)
            for value in event.summary.value:
                out.setdefault(value.tag, {})[int(event.step)] = value.simple_value
    return out
