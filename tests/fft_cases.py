"""How many random frames the FFT regressions stream."""

RANDOM_VECTORS = 1000


def random_frame_count(points: int) -> int:
    """Random frames per configuration: 1000, or 16k words for the large transforms
    (a 256-point frame is 256 words; 64 of them exercise every twiddle and stage
    as often as 1000 frames of 16)."""
    return min(RANDOM_VECTORS, 16384 // points)
